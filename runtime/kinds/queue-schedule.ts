/**
 * @module kinds/queue-schedule — `queue.schedule`: a service publishing its `body` to a queue at
 * every tick of a cron expression or interval, once per tick however many taskrt processes run it.
 *
 * States: CREATED → start → RUNNING (or DISABLED when `enabled: false`) → stop → STOPPED
 * (→ start → RUNNING again).
 * - start: with a `db`, reads the last tick claimed on it; a schedule that never ran there records
 *   the latest past tick as its beginning (so a later restart knows what it missed) and publishes
 *   nothing for it. Ticks missed since the last one are then handled by `catch_up`, and a timer is
 *   armed for the next tick.
 * - a tick: with a `db`, one transaction claims it in taskrt_schedule_ticks and publishes; only the
 *   process whose claim inserted the row publishes, and a claim for a tick no later than one already
 *   claimed fails, so no tick is ever published twice. Without `db`, the tick is just published.
 * - a failed tick (database or queue unavailable) is tried again after 1s, doubling up to 1m, and
 *   always by the next tick: it stays due until it is published or claimed elsewhere.
 * - stop: clears the timer and waits for the tick in progress, whose claim and publish commit
 *   together or not at all.
 */
import { PROBLEM_CODES, TaskrtError, errorMessage, type Problem } from "../errors.ts";
import { formatDuration, parseDuration } from "../duration.ts";
import type { Logger } from "../logger.ts";
import { resolveId, type Entry, type Registry } from "../registry/entry.ts";
import type { SqlDatabase } from "../drivers/sql/driver.ts";
import type { Headers, QueueHandle } from "../drivers/queue/driver.ts";
import { cronTimetable, intervalTimetable, type Timetable } from "../queue/schedule-timetable.ts";
import { claimTick, createTicksTable, lastClaimedTick } from "../queue/schedule-ticks.ts";
import { isQueueHandle } from "./queue-queue.ts";
import type { Component } from "../contracts/component.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import { defineKind } from "../contracts/kind-definition.ts";

export const SCHEDULE_STATES = { CREATED: "created", DISABLED: "disabled", RUNNING: "running", STOPPED: "stopped" } as const;
type ScheduleState = (typeof SCHEDULE_STATES)[keyof typeof SCHEDULE_STATES];

export type CatchUp = "all" | "latest" | "none";

/** `entry.data` after validation filled the schema's defaults. */
interface ScheduleData {
  queue: string;
  cron?: string;
  interval?: string | number;
  timezone?: string;
  body: unknown;
  enabled: boolean;
  db?: string;
  catch_up: CatchUp;
  catch_up_limit: number;
}

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 60_000;
/** Node's timers overflow past 2^31-1 ms; a far tick is reached by waking once a day. */
const MAX_TIMER_MS = 24 * 3_600_000;
const DAY_MS = 24 * 3_600_000;

export interface QueueScheduleOptions {
  /** The clock, for tests. */
  now?: () => number;
}

export class QueueSchedule implements Component {
  readonly id: string;
  private readonly queueId: string;
  private readonly databaseId: string | undefined;
  private readonly timetable: Timetable;
  private readonly timezone: string | undefined;
  private readonly body: unknown;
  private readonly enabled: boolean;
  private readonly catchUp: CatchUp;
  private readonly catchUpLimit: number;
  private readonly now: () => number;
  private state: ScheduleState = SCHEDULE_STATES.CREATED;
  private queue: QueueHandle | undefined;
  private database: SqlDatabase | undefined;
  /** Every tick up to this one is done: published, claimed by another process, or skipped. */
  private lastTick: number | undefined;
  private nextTick: number | undefined;
  /** The tick the timer was set for, which is due when it fires even if the clock reads a little early. */
  private armedFor: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private retryDelayMs = 0;

  constructor(
    entry: Entry,
    private readonly context: BuildContext,
    private readonly logger: Logger,
    options: QueueScheduleOptions = {},
  ) {
    const data = entry.data as unknown as ScheduleData;
    this.id = entry.id;
    this.queueId = resolveId(data.queue, entry.namespace);
    this.databaseId = data.db === undefined ? undefined : resolveId(data.db, entry.namespace);
    this.timetable = timetableOf(entry);
    this.timezone = data.cron === undefined ? undefined : data.timezone;
    this.body = data.body;
    this.enabled = data.enabled;
    this.catchUp = data.catch_up;
    this.catchUpLimit = data.catch_up_limit;
    this.now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    if (this.state === SCHEDULE_STATES.RUNNING || this.state === SCHEDULE_STATES.DISABLED) return;
    if (!this.enabled) {
      this.state = SCHEDULE_STATES.DISABLED;
      this.logger.info(`disabled: publishes nothing (enable it with -o ${this.id}:enabled=true)`);
      return;
    }
    if (this.running) await this.running;
    this.queue = this.resolveQueue();
    let last = this.lastTick;
    if (this.databaseId !== undefined) {
      const database = (this.database = await this.context.services.database(this.databaseId));
      try {
        await createTicksTable(database);
        last = await lastClaimedTick(database, this.id);
      } catch (error) {
        throw new TaskrtError("E_SCHEDULE_STORE", `schedule ${this.id} cannot read its last tick from ${this.databaseId}: ${errorMessage(error)}`, {
          entryId: this.id,
          hint: "the database must be reachable and writable (the schedule keeps its ticks in taskrt_schedule_ticks)",
          cause: error,
        });
      }
    }
    const now = this.now();
    this.lastTick = last ?? (await this.begin(now));
    this.state = SCHEDULE_STATES.RUNNING;
    this.skipMissed(now);
    this.wake();
    await this.running;
  }

  async stop(): Promise<void> {
    if (this.state !== SCHEDULE_STATES.RUNNING) {
      if (this.state === SCHEDULE_STATES.DISABLED) this.state = SCHEDULE_STATES.STOPPED;
      return;
    }
    this.state = SCHEDULE_STATES.STOPPED;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.nextTick = undefined;
    this.armedFor = undefined;
    await this.running;
  }

  describe(): string {
    const what = `${this.timetable.describe()} → ${this.queueId}`;
    if (!this.enabled) return `disabled: ${what}`;
    if (this.state !== SCHEDULE_STATES.RUNNING || this.nextTick === undefined) return what;
    return `${what} (next ${formatTick(this.nextTick, this.now(), this.timezone)})`;
  }

  /**
   * First run on this database (or without one): the schedule begins at the latest past tick,
   * which it does not publish. With a database, that tick is claimed, so a restart catches up from it.
   */
  private async begin(now: number): Promise<number> {
    const [beginning] = this.timetable.latest(Number.NEGATIVE_INFINITY, now, 1);
    if (beginning === undefined) return now;
    const database = this.database;
    if (database) {
      try {
        await database.transaction((transaction) => claimTick(transaction, this.id, beginning, now));
      } catch (error) {
        throw new TaskrtError("E_SCHEDULE_STORE", `schedule ${this.id} cannot record its first tick in ${this.databaseId}: ${errorMessage(error)}`, {
          entryId: this.id,
          hint: "the database must be writable (the schedule keeps its ticks in taskrt_schedule_ticks)",
          cause: error,
        });
      }
    }
    return beginning;
  }

  /** Applies `catch_up` to the ticks missed while stopped; those it keeps are published by the first wake. */
  private skipMissed(now: number): void {
    const missed = this.timetable.latest(this.lastTick!, now, this.catchUpLimit + 1);
    if (missed.length === 0) return;
    const latest = missed[missed.length - 1];
    switch (this.catchUp) {
      case "all":
        // More than the limit: the first wake skips the oldest and says so.
        return;
      case "latest":
        if (missed.length > 1) {
          this.logger.info(`skipping the ticks missed while stopped, up to ${iso(missed[missed.length - 2])} (catch_up: latest); publishing ${iso(latest)}`);
          this.lastTick = missed[missed.length - 2];
        }
        return;
      case "none":
        this.logger.info(`skipping the ticks missed while stopped, up to ${iso(latest)} (catch_up: none)`);
        this.lastTick = latest;
        return;
      default: {
        const unknown: never = this.catchUp;
        throw new Error(`unknown catch_up ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** Publishes every due tick, then arms the timer for the next one (or for a retry). */
  private wake(): void {
    this.timer = undefined;
    this.running = this.publishDue()
      .then(
        () => {
          this.retryDelayMs = 0;
        },
        (error: unknown) => {
          this.retryDelayMs = this.retryDelayMs === 0 ? FIRST_RETRY_MS : Math.min(this.retryDelayMs * 2, MAX_RETRY_MS);
          this.logger.error(`${errorMessage(error)}; trying again in ${formatDuration(this.retryDelayMs)}`, { error });
        },
      )
      .finally(() => {
        this.running = undefined;
        if (this.state === SCHEDULE_STATES.RUNNING) this.arm();
      });
  }

  private async publishDue(): Promise<void> {
    const until = Math.max(this.now(), this.armedFor ?? Number.NEGATIVE_INFINITY);
    this.armedFor = undefined;
    const due = this.timetable.latest(this.lastTick!, until, this.catchUpLimit + 1);
    if (due.length > this.catchUpLimit) {
      const skippedUpTo = due.shift()!;
      this.logger.warn(
        `more than ${this.catchUpLimit} ticks are due: publishing the latest ${this.catchUpLimit}, from ${iso(due[0])}; ` +
          `the older ones, up to ${iso(skippedUpTo)}, are skipped (catch_up_limit)`,
      );
      this.lastTick = skippedUpTo;
    }
    for (const tick of due) {
      if (this.state !== SCHEDULE_STATES.RUNNING) return;
      await this.publishTick(tick);
      this.lastTick = tick;
    }
  }

  private async publishTick(tick: number): Promise<void> {
    const headers: Headers = { x_scheduled_at: iso(tick), x_schedule: this.id };
    const queue = this.queue!;
    const database = this.database;
    let published = true;
    try {
      if (database) {
        // On the queue's own database the publish joins this transaction: claim and message commit together.
        published = await database.transaction(async (transaction) => {
          if (!(await claimTick(transaction, this.id, tick, this.now()))) return false;
          await queue.publish(structuredClone(this.body), headers);
          return true;
        });
      } else {
        await queue.publish(structuredClone(this.body), headers);
      }
    } catch (error) {
      throw new TaskrtError("E_SCHEDULE_PUBLISH", `tick ${iso(tick)} could not be published to ${this.queueId}: ${errorMessage(error)}`, {
        entryId: this.id,
        cause: error,
      });
    }
    this.logger.debug(published ? `published tick ${iso(tick)}` : `tick ${iso(tick)} was published by another process`);
  }

  private arm(): void {
    const now = this.now();
    const next = this.timetable.next(Math.max(this.lastTick!, now));
    this.nextTick = next;
    let delay = next === undefined ? Number.POSITIVE_INFINITY : next - now;
    this.armedFor = next;
    if (this.retryDelayMs > 0 && this.retryDelayMs < delay) {
      delay = this.retryDelayMs;
      this.armedFor = undefined;
    }
    if (delay === Number.POSITIVE_INFINITY) {
      this.logger.info("no further ticks: the cron expression matches no future time");
      return;
    }
    if (delay > MAX_TIMER_MS) {
      delay = MAX_TIMER_MS;
      this.armedFor = undefined;
    }
    this.timer = setTimeout(() => this.wake(), Math.max(0, delay));
  }

  private resolveQueue(): QueueHandle {
    const component = this.context.component(this.queueId);
    if (!isQueueHandle(component)) {
      throw new TaskrtError("E_SCHEDULE_QUEUE", `schedule ${this.id}: ${this.queueId} is not a queue`, {
        entryId: this.id,
        hint: "point queue at a queue.queue entry",
      });
    }
    return component;
  }
}

function timetableOf(entry: Entry): Timetable {
  const data = entry.data as unknown as ScheduleData;
  if (data.cron !== undefined) return cronTimetable(data.cron, data.timezone);
  return intervalTimetable(Math.round(parseDuration(data.interval!)));
}

function iso(tick: number): string {
  return new Date(tick).toISOString();
}

/** `12:05:00` within the next day, `2026-03-01 03:00:00` further off; in the schedule's zone. */
function formatTick(tick: number, now: number, timezone: string | undefined): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: timezone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(tick));
  const part = (type: string): string => parts.find((candidate) => candidate.type === type)?.value ?? "";
  const time = `${part("hour")}:${part("minute")}:${part("second")}`;
  return tick - now < DAY_MS ? time : `${part("year")}-${part("month")}-${part("day")} ${time}`;
}

const TIMETABLE_HINT = 'give cron (e.g. "*/5 * * * *") or interval (e.g. "5m")';

/** Exactly one of cron and interval, each valid; the zone a real one; and a word when ticks are not shared. */
export function checkSchedule(entry: Entry, registry: Registry): Problem[] {
  const data = entry.data as Partial<ScheduleData>;
  const problems: Problem[] = [];
  const problem = (field: string | undefined, message: string, hint?: string, severity: Problem["severity"] = "error"): void => {
    problems.push({
      code: PROBLEM_CODES.SCHEMA,
      severity,
      message,
      entryId: entry.id,
      field,
      location: field ? entry.locate([field]) : entry.location,
      hint,
    });
  };
  if (data.cron !== undefined && data.interval !== undefined) {
    problem("interval", "gives both cron and interval; a schedule has one timetable: keep one of them", TIMETABLE_HINT);
  } else if (data.cron === undefined && data.interval === undefined) {
    problem(undefined, "needs cron (a cron expression) or interval (a duration)", TIMETABLE_HINT);
  }
  if (data.timezone !== undefined && !isTimeZone(data.timezone)) {
    problem("timezone", `timezone "${data.timezone}" is not an IANA time zone`, "e.g. Europe/Paris, America/New_York or UTC");
  } else if (data.cron !== undefined) {
    try {
      cronTimetable(data.cron, data.timezone);
    } catch (error) {
      problem("cron", `cron "${data.cron}" is not a valid cron expression: ${errorMessage(error)}`, 'five fields (minute hour day month weekday), or six with seconds first, e.g. "*/5 * * * *"');
    }
  }
  if (data.interval !== undefined && data.cron === undefined) {
    if (Math.round(parseDuration(data.interval)) < 1) problem("interval", `interval must be at least 1ms, found ${JSON.stringify(data.interval)}`, 'e.g. "30s" or "5m"');
    if (data.timezone !== undefined) {
      problem("timezone", "timezone applies to cron only: an interval ticks at multiples of itself since the Unix epoch, in every zone", "remove timezone, or use cron", "warning");
    }
  }
  if (data.db === undefined && data.enabled !== false) problems.push(...sharedQueueWarning(entry, registry));
  return problems;
}

/** A durable queue is usually shared by several processes: without db, each would publish every tick. */
function sharedQueueWarning(entry: Entry, registry: Registry): Problem[] {
  const queue = registry.byId.get(resolveId(String(entry.data.queue), entry.namespace));
  const driverRef = queue?.data.driver;
  const driver = typeof driverRef === "string" ? registry.byId.get(resolveId(driverRef, queue!.namespace)) : undefined;
  if (!driver || driver.kind === "queue.driver.memory") return [];
  const database = typeof driver.data.db === "string" ? resolveId(driver.data.db, driver.namespace) : undefined;
  return [
    {
      code: PROBLEM_CODES.SCHEMA,
      severity: "warning",
      message: `has no db: ticks missed while taskrt is stopped are not published, and every taskrt process running it publishes each tick (${queue!.id} is on ${driver.kind})`,
      entryId: entry.id,
      field: "db",
      location: entry.location,
      hint: `set db to a db.sql.* entry that every process shares${database ? `, e.g. db: ${database} (the queue's own database: claim and publish then commit together)` : ""}`,
    },
  ];
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function createQueueSchedule(entry: Entry, context: BuildContext, options: QueueScheduleOptions = {}): QueueSchedule {
  return new QueueSchedule(entry, context, context.logger.forEntry(entry.id), options);
}

export default defineKind({
  kind: "queue.schedule",
  summary: "Publishes to a queue on a cron expression or interval, once per tick across processes sharing its db",
  references: [
    { path: ["queue"], kinds: ["queue.queue"] },
    { path: ["db"], kinds: ["db.sql.*"] },
  ],
  service: true,
  check: checkSchedule,
  create: (entry, context) => createQueueSchedule(entry, context),
});
