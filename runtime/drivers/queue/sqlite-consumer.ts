/**
 * @module drivers/queue/sqlite-consumer — one `consume` call on the SQLite queue (its prefetch
 * window, lease owner and wake-up timers) and the deliveries it hands out.
 *
 * A consumer is FETCHING (the next tick leases for it), FULL (prefetch reached: a settlement that
 * frees enough slots asks for a fetch), or DRAINED (its last fetch came back short: a local publish,
 * a retry coming due, or the poll timer wakes it). CANCELLED stops fetching; leases of deliveries
 * still held keep being extended until they are settled.
 */
import { MAX_TIMER_MS } from "../../duration.ts";
import { TaskrtError, errorMessage } from "../../errors.ts";
import type { Delivery, Headers, QueueMessage, RateLimit } from "./driver.ts";
import type { LeasedRow, SettlementKind } from "./sqlite-schema.ts";
import { SQLITE_QUEUE_ERROR } from "./sqlite-storage.ts";

/** What a consumer needs from its driver: settlements, fetches and lease extensions go through its ticks. */
export interface ConsumerHost {
  readonly ackTimeoutMs: number;
  readonly pollIntervalMs: number;
  settle(delivery: SqliteDelivery, kind: SettlementKind, delayMs: number, error: string): Promise<void>;
  requestFetch(consumer: SqliteConsumer): void;
  requestExtension(consumer: SqliteConsumer): void;
  reportProgress(delivery: SqliteDelivery, value: unknown): Promise<void>;
}

export class SqliteConsumer {
  cancelled = false;
  /** The driver stopped: its leases were handed back, so its deliveries can no longer settle. */
  closed = false;
  private drained = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private pollDueAt = Infinity;
  private extendTimer: NodeJS.Timeout | undefined;
  /** Row numbers of the deliveries handed out and not yet settled: the leases to extend. */
  private readonly held = new Set<number>();

  constructor(
    private readonly driver: ConsumerHost,
    readonly queue: string,
    readonly prefetch: number,
    readonly owner: string,
    private readonly onDelivery: (delivery: Delivery) => void,
    readonly rates: readonly RateLimit[] = [],
  ) {}

  freeSlots(): number {
    return this.prefetch - this.held.size;
  }

  /** JSON array of the held row numbers, for the extension statement. */
  heldRows(): string {
    return JSON.stringify([...this.held]);
  }

  /** After a tick's commit: hand out what was leased, and decide how this consumer wakes next. */
  deliver(rows: LeasedRow[], wanted: number, nextAvailable: number | null, now: number): void {
    if (rows.length > 1) rows.sort(deliveryOrder);
    for (const row of rows) {
      const delivery = new SqliteDelivery(this.driver, this, row);
      this.held.add(row.seq);
      if (delivery.unreadable !== undefined) void delivery.bury(delivery.unreadable).catch(() => undefined);
      else if (this.cancelled) void delivery.release().catch(() => undefined);
      else this.handOut(delivery);
    }
    if (rows.length > 0 && this.extendTimer === undefined) {
      const every = Math.max(1, Math.floor(this.driver.ackTimeoutMs / 3));
      this.extendTimer = setInterval(() => this.extendLeases(), every);
    }
    this.drained = rows.length < wanted;
    if (this.drained && !this.cancelled) {
      const untilNext = nextAvailable === null ? Infinity : Math.max(1, nextAvailable - now);
      this.armPoll(Math.min(this.driver.pollIntervalMs, untilNext));
    }
  }

  /** A local publish committed on this queue. */
  wake(): void {
    if (this.cancelled || this.freeSlots() === 0) return;
    this.clearPoll();
    this.driver.requestFetch(this);
  }

  /** A message of this queue becomes deliverable at `availableAt`. */
  wakeAt(availableAt: number): void {
    if (this.cancelled || !this.drained || this.freeSlots() === 0) return;
    const now = Date.now();
    if (availableAt <= now) this.wake();
    else if (availableAt < this.pollDueAt) this.armPoll(availableAt - now);
  }

  /** One of this consumer's deliveries was settled (the commit may still be pending). */
  settled(delivery: SqliteDelivery): void {
    this.held.delete(delivery.seq);
    if (this.cancelled) {
      if (this.held.size === 0) this.stopExtending();
      return;
    }
    // Settlements made in one turn of the event loop share the next tick, so their freed slots are
    // refilled by one fetch in the same transaction as their commit.
    if (!this.drained) this.driver.requestFetch(this);
  }

  cancel(): void {
    this.cancelled = true;
    this.clearPoll();
    if (this.held.size === 0) this.stopExtending();
  }

  /** Driver stop: no more timers of any kind. */
  close(): void {
    this.closed = true;
    this.cancel();
    this.stopExtending();
  }

  private handOut(delivery: SqliteDelivery): void {
    try {
      this.onDelivery(delivery);
    } catch (error) {
      // A consumer callback that throws did not take the delivery; retrying it later (as a counted
      // attempt) keeps a broken callback from spinning on the same message.
      if (!delivery.isSettled()) void delivery.retry(this.driver.pollIntervalMs, `consumer callback threw: ${errorMessage(error)}`).catch(() => undefined);
    }
  }

  private armPoll(wanted: number): void {
    // A message delayed past a Node.js timer's limit is looked at again then, not after 1 ms.
    const delay = Math.min(wanted, MAX_TIMER_MS);
    clearTimeout(this.pollTimer);
    this.pollDueAt = Date.now() + delay;
    this.pollTimer = setTimeout(() => {
      this.clearPoll();
      this.driver.requestFetch(this);
    }, delay);
  }

  private clearPoll(): void {
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    this.pollDueAt = Infinity;
  }

  private extendLeases(): void {
    if (this.held.size > 0) this.driver.requestExtension(this);
    else if (this.cancelled) this.stopExtending();
  }

  private stopExtending(): void {
    clearInterval(this.extendTimer);
    this.extendTimer = undefined;
  }
}

function deliveryOrder(left: LeasedRow, right: LeasedRow): number {
  return right.priority - left.priority || left.available_at - right.available_at || left.seq - right.seq;
}

export class SqliteDelivery implements Delivery {
  readonly message: QueueMessage;
  readonly seq: number;
  /** Set when the stored row cannot be decoded: the delivery is buried, never handed out. */
  readonly unreadable: string | undefined;
  private settledAs: SettlementKind | undefined;

  constructor(
    private readonly driver: ConsumerHost,
    readonly consumer: SqliteConsumer,
    row: LeasedRow,
  ) {
    this.seq = row.seq;
    let headers: Headers = {};
    let body: unknown;
    try {
      if (row.headers !== null) headers = JSON.parse(row.headers);
      body = JSON.parse(row.body);
    } catch (error) {
      this.unreadable = `stored message is not valid JSON: ${errorMessage(error)}`;
    }
    if (row.last_error !== null) headers.x_last_error = row.last_error;
    // As Wippy: every message carries the unix second it was published at, unless the publisher set one.
    if (headers.timestamp === undefined) headers.timestamp = Math.floor(row.created_at / 1000);
    this.message = { id: row.id, body, headers, attempts: row.attempts };
  }

  isSettled(): boolean {
    return this.settledAs !== undefined;
  }

  ack(): Promise<void> {
    return this.settle("ack", 0, "");
  }

  retry(delayMs: number, error: string): Promise<void> {
    return this.settle("retry", Number.isFinite(delayMs) && delayMs > 0 ? Math.round(delayMs) : 0, error);
  }

  bury(error: string): Promise<void> {
    return this.settle("bury", 0, error);
  }

  release(): Promise<void> {
    return this.settle("release", 0, "");
  }

  progress(value: unknown): Promise<void> {
    if (this.settledAs !== undefined) {
      return Promise.reject(
        new TaskrtError(SQLITE_QUEUE_ERROR.ALREADY_SETTLED, `message ${this.message.id} of queue "${this.consumer.queue}" is already settled (${this.settledAs}); progress refused`, {
          hint: "report progress while the handler works, before it returns or settles the message",
        }),
      );
    }
    return this.driver.reportProgress(this, value);
  }

  private settle(kind: SettlementKind, delayMs: number, error: string): Promise<void> {
    if (this.settledAs !== undefined) {
      return Promise.reject(
        new TaskrtError(SQLITE_QUEUE_ERROR.ALREADY_SETTLED, `message ${this.message.id} of queue "${this.consumer.queue}" is already settled (${this.settledAs}); ${kind} refused`, {
          hint: "settle each delivery exactly once: ack, retry, bury or release",
        }),
      );
    }
    this.settledAs = kind;
    return this.driver.settle(this, kind, delayMs, error);
  }
}
