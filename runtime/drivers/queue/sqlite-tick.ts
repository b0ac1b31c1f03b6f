/**
 * @module drivers/queue/sqlite-tick — what one tick of the SQLite queue does inside its
 * transaction: insert the publishes, apply the settlements, extend held leases, reclaim expired
 * ones and lease the next messages for each consumer that asked. Synchronous; commits are the caller's.
 */
import { keyHeld, type LeasedRow, type QueueStatements, type SettlementKind } from "./sqlite-schema.ts";
import type { SqliteConsumer, SqliteDelivery } from "./sqlite-consumer.ts";
import { rateBudget } from "./rate-limit.ts";

export interface PendingInsert {
  params: [string, string, string, string | null, number, number, number];
  /** A publish with a deduplication key: dropped when the key is held; `existing` then names its holder. */
  unique?: { key: string; heldUntil: number; existing?: string };
  resolve(id: string, duplicate: boolean): void;
  reject(error: unknown): void;
}

export interface Settlement {
  kind: SettlementKind;
  delivery: SqliteDelivery;
  availableAt: number;
  error: string;
}

export interface PendingSettlement extends Settlement {
  resolve(): void;
  reject(error: unknown): void;
}

export interface Tick {
  now: number;
  inserts: PendingInsert[];
  settlements: PendingSettlement[];
  extensions: SqliteConsumer[];
  fetches: SqliteConsumer[];
}

export interface TickResult {
  /** Per settlement: did it find the message still leased to its consumer? */
  applied: boolean[];
  leased: LeasedRow[][];
  /** Per fetch: how many it asked for. */
  wanted: number[];
  /** Per fetch that came back short: when the next delayed message becomes deliverable. */
  nextAvailable: (number | null)[];
}

/**
 * Runs the tick's statements in order. `reclaimDue(queue)` says whether to turn the queue's
 * expired leases back into ready messages before fetching from it.
 */
export function applyTick(statements: QueueStatements, tick: Tick, leaseUntil: number, reclaimDue: (queueName: string) => boolean): TickResult {
  const { now } = tick;
  for (const insert of tick.inserts) {
    const unique = insert.unique;
    if (unique) {
      const queueName = insert.params[1];
      const holder = statements.findKey.get(queueName, unique.key);
      if (keyHeld(holder, now)) {
        unique.existing = holder.message_id;
        continue;
      }
      statements.holdKey.run(queueName, unique.key, insert.params[0], unique.heldUntil);
    }
    statements.insert.run(...insert.params);
  }
  const applied: boolean[] = [];
  for (const settlement of tick.settlements) {
    applied.push(statements.settle[settlement.kind].run(...settlementParams(settlement)).changes > 0);
  }
  for (const consumer of tick.extensions) statements.extend.run(leaseUntil, consumer.heldRows(), consumer.owner);
  const leased: LeasedRow[][] = [];
  const wanted: number[] = [];
  const nextAvailable: (number | null)[] = [];
  const paused = new Map<string, boolean>();
  for (const consumer of tick.fetches) {
    const want = consumer.freeSlots();
    let queuePaused = paused.get(consumer.queue);
    if (queuePaused === undefined) paused.set(consumer.queue, (queuePaused = (statements.isPaused.get(consumer.queue)?.paused ?? 0) === 1));
    if (queuePaused) {
      // A paused queue leases nothing; its consumers look again after the poll interval (or at a local resume).
      leased.push([]);
      wanted.push(want);
      nextAvailable.push(null);
      continue;
    }
    if (reclaimDue(consumer.queue)) statements.reclaim.run(consumer.queue, now);
    const budget = rateBudget(consumer.rates, now, (key) => statements.rateWindow.get(key));
    const rows = budget.allowed > 0 ? statements.lease.all(leaseUntil, consumer.owner, consumer.queue, now, Math.min(want, budget.allowed)) : [];
    for (const window of budget.windows) statements.setRateWindow.run(window.key, window.start, window.used + rows.length);
    leased.push(rows);
    wanted.push(want);
    let next = rows.length < want ? (statements.nextAvailable.get(consumer.queue, now)?.next ?? null) : null;
    // Held back by a rate: look again when its window ends, not at the next poll.
    if (rows.length < want && budget.allowed < want) next = Math.min(next ?? Infinity, budget.windowEnd);
    nextAvailable.push(next);
  }
  return { applied, leased, wanted, nextAvailable };
}

/** Parameters of the settlement's statement, in the order `SETTLEMENT_SQL` documents. */
export function settlementParams(settlement: Settlement): unknown[] {
  const { seq, consumer } = settlement.delivery;
  switch (settlement.kind) {
    case "ack":
    case "release":
      return [seq, consumer.owner];
    case "retry":
    case "bury":
      return [settlement.availableAt, settlement.error, seq, consumer.owner];
    default: {
      const unknownKind: never = settlement.kind;
      throw new Error(`internal: unknown settlement ${String(unknownKind)}`);
    }
  }
}

