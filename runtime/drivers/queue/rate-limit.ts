/**
 * @module drivers/queue/rate-limit — the check every driver makes of a consumer's rate limits, and
 * the fixed-window budget the in-process driver keeps, and the budget of windows kept in a table
 * (SQLite and PostgreSQL), counted inside the claim's transaction.
 */
import { TaskrtError } from "../../errors.ts";
import type { RateLimit } from "./driver.ts";

export function checkRates(driverId: string, queueName: string, rates: readonly RateLimit[] | undefined): readonly RateLimit[] {
  for (const rate of rates ?? []) {
    if (Number.isInteger(rate.limit) && rate.limit >= 1 && Number.isFinite(rate.perMs) && rate.perMs >= 1 && typeof rate.key === "string" && rate.key !== "") continue;
    throw new TaskrtError("E_QUEUE_OPTIONS", `queue driver ${driverId}: a rate for queue "${queueName}" needs a whole limit of at least 1 per at least 1 ms, found ${rate.limit} per ${rate.perMs} ms`, {
      entryId: driverId,
      hint: "write e.g. rate: {limit: 100, per: 1s}",
    });
  }
  return rates ?? [];
}

/** Deliveries counted per key in the current (epoch-aligned) window, for one process. */
export class RateWindows {
  private readonly windows = new Map<string, { start: number; used: number }>();

  /** How many more deliveries every rate allows now, and when the first exhausted window ends. */
  budget(rates: readonly RateLimit[], now: number): { allowed: number; windowEnd: number } {
    let allowed = Infinity;
    let windowEnd = Infinity;
    for (const rate of rates) {
      const start = Math.floor(now / rate.perMs) * rate.perMs;
      const window = this.windows.get(rate.key);
      const left = Math.max(0, rate.limit - (window && window.start === start ? window.used : 0));
      allowed = Math.min(allowed, left);
      if (left === 0) windowEnd = Math.min(windowEnd, start + rate.perMs);
    }
    return { allowed, windowEnd };
  }

  count(rates: readonly RateLimit[], now: number): void {
    for (const rate of rates) {
      const start = Math.floor(now / rate.perMs) * rate.perMs;
      const window = this.windows.get(rate.key);
      if (window && window.start === start) window.used++;
      else this.windows.set(rate.key, { start, used: 1 });
    }
  }
}

export interface RateBudget {
  /** Deliveries every rate still allows in its current window. */
  allowed: number;
  /** When the earliest window that limits ends. */
  windowEnd: number;
  /** Per rate: its key, its current window's start and the deliveries counted in it so far. */
  windows: { key: string; start: number; used: number }[];
}

/**
 * What the rates allow now, given each key's stored window (`stored(key)`: its start and count, or
 * nothing). Windows are aligned to the epoch (floor(now / per)), so every process sharing a key agrees on them.
 */
export function rateBudget(rates: readonly RateLimit[], now: number, stored: (key: string) => { window_start: number; count: number } | undefined): RateBudget {
  const budget: RateBudget = { allowed: Infinity, windowEnd: Infinity, windows: [] };
  for (const rate of rates) {
    const start = Math.floor(now / rate.perMs) * rate.perMs;
    const row = stored(rate.key);
    const used = row && row.window_start === start ? row.count : 0;
    const left = Math.max(0, rate.limit - used);
    if (left < budget.allowed) budget.allowed = left;
    if (left === 0) budget.windowEnd = Math.min(budget.windowEnd, start + rate.perMs);
    budget.windows.push({ key: rate.key, start, used });
  }
  if (budget.windowEnd === Infinity && rates.length > 0) budget.windowEnd = Math.min(...budget.windows.map((window, index) => window.start + rates[index].perMs));
  return budget;
}
