/**
 * @module handlers/lua/modules/call-transactions — the transactions a Lua call has open
 * (`db:begin()` without its `tx:commit()`/`tx:rollback()` yet), so that other modules' calls can
 * act inside them as TypeScript code inside `transaction(fn)` does.
 *
 * A TypeScript handler's publish knows its transaction from the async context `transaction(fn)`
 * runs `fn` in. A Lua call's module calls each arrive on their own (from a worker, or resumed by
 * the engine), outside that context; so `db:begin()` keeps a way back into it, and
 * `queue.publish` runs there: a memory queue's message is admitted after `tx:commit()` and
 * discarded by a rollback, a SQLite queue on the same database writes inside the transaction.
 */
import type { LuaCall } from "../native.ts";

/** An open transaction as other modules need it. */
export interface OpenTransaction {
  readonly databaseId: string;
  /** Runs `work` in the async context of the transaction's function (its CommitScope, the driver's frame). */
  inside<T>(work: () => T): T;
}

/** Each call's open transactions, by database id, in the order they were begun. */
const openTransactions = new WeakMap<LuaCall, Map<string, OpenTransaction>>();

export function openTransaction(call: LuaCall | undefined, databaseId: string): OpenTransaction | undefined {
  return call ? openTransactions.get(call)?.get(databaseId) : undefined;
}

export function addOpenTransaction(call: LuaCall, transaction: OpenTransaction): void {
  let open = openTransactions.get(call);
  if (!open) openTransactions.set(call, (open = new Map()));
  open.set(transaction.databaseId, transaction);
}

/** Forgets `transaction` once it committed or rolled back (a newer one on the same database stays). */
export function removeOpenTransaction(call: LuaCall | undefined, transaction: OpenTransaction): void {
  const open = call && openTransactions.get(call);
  if (open?.get(transaction.databaseId) === transaction) open.delete(transaction.databaseId);
}

/**
 * Runs `work` inside the transaction the call began last among those still open, or as it is when
 * none is. With transactions open on several databases at once, a publish belongs to the newest
 * alone: Lua may end them in any order, so they do not nest as `transaction(fn)` calls do.
 */
export function inCallTransaction<T>(call: LuaCall | undefined, work: () => T): T {
  const open = call && openTransactions.get(call);
  let newest: OpenTransaction | undefined;
  if (open) for (const transaction of open.values()) newest = transaction;
  return newest ? newest.inside(work) : work();
}
