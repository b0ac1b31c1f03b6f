/**
 * @module queue/schedule-timetable — when a schedule ticks: a cron expression (croner) or a fixed
 * interval aligned to the Unix epoch. Every process computes the same instants from the same
 * definition, which is what lets several processes agree on which tick to claim.
 */
import { Cron } from "croner";

export interface Timetable {
  /** The first tick strictly after `after` (Unix ms), or undefined when there is none (a cron for a past year). */
  next(after: number): number | undefined;
  /** Up to `count` of the latest ticks in (`after`, `until`], oldest first. */
  latest(after: number, until: number, count: number): number[];
  /** `every 5m`, `cron "0 3 * * *" (Europe/Paris)`. */
  describe(): string;
}

/** Ticks at every whole multiple of `periodMs` since the epoch: `5m` ticks at :00, :05, :10, … */
export function intervalTimetable(periodMs: number): Timetable {
  const floor = (at: number): number => Math.floor(at / periodMs) * periodMs;
  return {
    next: (after) => floor(after) + periodMs,
    latest(after, until, count) {
      const ticks: number[] = [];
      for (let tick = floor(until); tick > after && ticks.length < count; tick -= periodMs) ticks.push(tick);
      return ticks.reverse();
    },
    describe: () => `every ${formatPeriod(periodMs)}`,
  };
}

const UNITS: readonly [string, number][] = [
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1000],
  ["ms", 1],
];

/** As a registry writes it: 3600000 → `1h`, 90000 → `1m30s`, 150 → `150ms`. */
export function formatPeriod(periodMs: number): string {
  let rest = periodMs;
  let text = "";
  for (const [unit, size] of UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * size;
  }
  return text || "0ms";
}

/**
 * A cron expression read by croner: 5 fields, or 6 with seconds first; `timezone` is an IANA zone,
 * unset meaning the process's own. Throws croner's error for a pattern or zone it refuses.
 */
export function cronTimetable(expression: string, timezone?: string): Timetable {
  const cron = new Cron(expression, { paused: true, ...(timezone ? { timezone } : {}) });
  return {
    next: (after) => cron.nextRun(new Date(after))?.getTime(),
    latest(after, until, count) {
      // croner counts a run in the reference's own second as earlier; one ms past `until` includes `until`.
      return cron
        .previousRuns(count, new Date(until + 1))
        .map((date) => date.getTime())
        .filter((tick) => tick > after && tick <= until)
        .reverse();
    },
    describe: () => `cron "${expression}"${timezone ? ` (${timezone})` : ""}`,
  };
}
