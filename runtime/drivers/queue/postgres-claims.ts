/**
 * @module drivers/queue/postgres-claims — the steps of the PostgreSQL queue's features that take a
 * lock inside a transaction (the publish's, or the claim's tick): a deduplication key, and the rate
 * windows a claim counts under.
 */
import { TaskrtError } from "../../errors.ts";
import type { SqlExecutor } from "../sql/driver.ts";
import { LOCK_KEY_SQL, LOCK_RATE_WINDOWS_SQL, RETAKE_KEY_SQL, TAKE_FREE_KEY_SQL } from "./postgres-schema.ts";
import { keyHeld, type KeyRow } from "./sqlite-schema.ts";
import type { SqliteConsumer as LeaseConsumer } from "./sqlite-consumer.ts";

/** A message as a publish inserts it (INSERT_SQL's JSON records). */
export interface NewMessageRow {
  id: string;
  queue: string;
  body: string;
  headers: string | null;
  priority: number;
  available_at: number;
  created_at: number;
}

/** A publish with a deduplication key: dropped when the key is held; `existing` then names its holder. */
export interface UniqueClaim {
  key: string;
  heldUntil: number;
  existing?: string;
}

/**
 * Takes the key for the row's message, or names the message that holds it. A free key is inserted
 * (waiting out another transaction taking it); a taken one is locked and handed over once it holds
 * nothing any more. Undefined: taken.
 */
export async function takeKey(tx: SqlExecutor, row: NewMessageRow, unique: UniqueClaim, now: number): Promise<string | undefined> {
  // Twice at most: a key pruned between the insert and the lock is free on the second round.
  for (let round = 0; round < 2; round++) {
    if ((await tx.query(TAKE_FREE_KEY_SQL, [row.queue, unique.key, row.id, unique.heldUntil])).length > 0) return undefined;
    const [locked] = await tx.query(LOCK_KEY_SQL, [row.queue, unique.key]);
    if (!locked) continue;
    const holder: KeyRow = { message_id: locked.message_id as string, held_until: Number(locked.held_until), state: (locked.state as string | null) ?? null };
    if (keyHeld(holder, now)) return holder.message_id;
    await tx.execute(RETAKE_KEY_SQL, [row.id, unique.heldUntil, row.queue, unique.key]);
    return undefined;
  }
  throw new TaskrtError("E_INTERNAL", `internal: unique key "${unique.key}" of queue "${row.queue}" could neither be inserted nor found`);
}

/** The windows of every rate the tick's fetches count under, locked for the tick (in key order, so ticks never deadlock over them). */
export async function lockRateWindows(tx: SqlExecutor, fetches: readonly LeaseConsumer[]): Promise<Map<string, { window_start: number; count: number }>> {
  const keys = [...new Set(fetches.flatMap((consumer) => consumer.rates.map((rate) => rate.key)))].sort();
  const windows = new Map<string, { window_start: number; count: number }>();
  if (keys.length === 0) return windows;
  for (const row of await tx.query(LOCK_RATE_WINDOWS_SQL, [JSON.stringify(keys)])) {
    windows.set(row.key as string, { window_start: Number(row.window_start), count: Number(row.count) });
  }
  return windows;
}

