/**
 * @module modules/sql — the `sql` handler module: database handles looked up by entry id, and the
 * query builder.
 *
 * Transactions: statements sent through the `tx` passed to `db.transaction(fn)` belong to it,
 * and so does a statement sent through `db` from inside `fn` (same async context) — on SQLite,
 * whose one connection cannot wait for itself, and on PostgreSQL alike. Writing `tx.query`
 * says so plainly.
 *
 * A publish to the memory queue inside `fn` is admitted once the transaction committed (see
 * CommitScope), and `transaction()` resolves after that: so a full queue makes the caller wait
 * for room after its commit, never while holding the commit the queue's consumers need.
 *
 * `batch(record)`: the hot path's transaction. `record` runs synchronously and only lists steps
 * (statements and publishes); they then commit together or not at all. A publish to a queue whose
 * driver stores in this database joins the transaction; one to a memory queue is admitted after the
 * commit, as inside `transaction()`; one to any other queue (a broker, another database) is sent
 * after the commit. Where the database offers a batch of its own (SQLite on a writer thread) and no
 * publish joins it, the statements travel as one message; elsewhere the batch is a transaction.
 */
import { TaskrtError } from "../errors.ts";
import type { BatchStatement, BatchStep as DatabaseBatchStep, ExecResult, SqlDatabase, SqlDialect, SqlExecutor, SqlRow } from "../drivers/sql/driver.ts";
import { currentContext, runInContext, useModule, withTransaction, type CallContext, type TransactionScope } from "./context.ts";
import { checkPublish, prepareInTransaction, sendPublish, type CheckedPublish, type PublishSettings } from "./queue.ts";
import type { Headers } from "../drivers/queue/driver.ts";
import { builder } from "./sql-builder.ts";

export type { ExecResult, SqlDialect, SqlRow as Row };
export type { PlaceholderFormat, SqlStatement, BoundStatement, WhereCondition } from "./sql-builder.ts";

/** What statements run on: a database handle or a transaction. Parameters are an array for `?` placeholders. */
export interface Executor {
  type(): SqlDialect;
  /** The rows as objects; name their shape with `query<{ id: string }>(…)` (it is not checked at run time). */
  query<Row extends object = SqlRow>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  execute(sql: string, params?: readonly unknown[]): Promise<ExecResult>;
}

/** What a batch's `record` function lists its steps on; nothing runs until it returned. */
export interface BatchBuilder {
  execute(sql: string, params?: readonly unknown[]): void;
  /** As `queue.publish` (needs the `queue` module); `options` (delay, priority) may follow the headers. */
  publish(queueId: string, data: unknown, headers?: Headers | PublishSettings, options?: PublishSettings): void;
}

export interface Database extends Executor {
  /** Commits when `fn` resolves, rolls back and rethrows when it throws; nested calls are savepoints. */
  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T>;
  /**
   * Runs the steps `record` lists (synchronously) as one transaction: resolves to the statements'
   * results once it committed and its publishes were handed over; rejects with the first failure,
   * and then nothing of it is kept.
   */
  batch(record: (batch: BatchBuilder) => void): Promise<ExecResult[]>;
  /** Gives the handle back; later calls on it fail with E_DB_RELEASED. Safe to call more than once. */
  release(): void;
}

export const sql = {
  /** The database entry `dbId` (a full id such as `app:db`), as a handle for this handler. */
  async get(dbId: string): Promise<Database> {
    const context = useModule("sql");
    if (typeof dbId !== "string" || dbId === "") {
      throw new TaskrtError("E_DB_NOT_FOUND", `sql.get needs a database id such as "app:db", got ${JSON.stringify(dbId) ?? String(dbId)}`, {
        entryId: context.entryId,
      });
    }
    return createHandle(await context.services.database(dbId));
  },
  builder,
  type: { SQLITE: "sqlite", POSTGRES: "postgres" } as const satisfies Record<string, SqlDialect>,
};

function createHandle(database: SqlDatabase): Database {
  let released = false;
  const checked = (): SqlDatabase => {
    if (released) {
      throw new TaskrtError("E_DB_RELEASED", `database handle for ${database.id} was released`, {
        entryId: database.id,
        hint: "call sql.get again, or release the handle only after its last statement",
      });
    }
    return database;
  };
  return {
    type: () => database.dialect,
    async query<Row extends object = SqlRow>(text: string, params?: readonly unknown[]) {
      // The caller names the row shape; the driver's rows are plain objects of that shape.
      return (await checked().query(text, params)) as Row[];
    },
    async execute(text, params) {
      return checked().execute(text, params);
    },
    async transaction(fn) {
      return inTransaction(checked(), (tx) => fn(wrapExecutor(tx)));
    },
    async batch(record) {
      const checkedDatabase = checked();
      return runBatch(checkedDatabase, recordBatch(checkedDatabase.id, record));
    },
    release() {
      released = true;
    },
  };
}

/** `fn` in a transaction of `database`, with a CommitScope for what must wait for its commit. */
async function inTransaction<T>(database: SqlDatabase, fn: (tx: SqlExecutor, scope: TransactionScope | undefined) => Promise<T>): Promise<T> {
  const context = currentContext();
  if (!context) return database.transaction((tx) => fn(tx, undefined));
  const scope = new CommitScope(context.transaction);
  const inside = withTransaction(context, scope);
  let result: T;
  try {
    result = await database.transaction((tx) => runInContext(inside, () => fn(tx, scope)));
  } catch (error) {
    scope.rolledBack();
    throw error;
  }
  await scope.committed();
  return result;
}

type BatchStep = { statement: BatchStatement } | { publish: CheckedPublish; context: CallContext };

function batchError(databaseId: string, message: string, hint: string): TaskrtError {
  return new TaskrtError("E_SQL_BATCH", `batch on ${databaseId}: ${message}`, { entryId: currentContext()?.entryId ?? databaseId, hint });
}

/** Calls `record` and returns the steps it listed; what it gets wrong is thrown before anything ran. */
function recordBatch(databaseId: string, record: (batch: BatchBuilder) => void): BatchStep[] {
  if (typeof record !== "function") throw batchError(databaseId, `batch() needs a function that lists the steps, got ${typeof record}`, "db.batch((b) => { b.execute(sql, params); })");
  const steps: BatchStep[] = [];
  let open = true;
  const checkOpen = (): void => {
    if (!open) throw batchError(databaseId, "a step was added after the function given to batch() returned", "list every step synchronously inside the function; await nothing there");
  };
  const builder: BatchBuilder = {
    execute(sql, params) {
      checkOpen();
      if (typeof sql !== "string" || sql.trim() === "") throw batchError(databaseId, `execute needs an SQL string, got ${JSON.stringify(sql) ?? typeof sql}`, "b.execute(\"INSERT INTO t (a) VALUES (?)\", [a])");
      if (params !== undefined && !Array.isArray(params)) throw batchError(databaseId, `execute's parameters must be an array, got ${typeof params}`, "pass the values for the ? placeholders as an array");
      steps.push({ statement: { sql, params: params === undefined ? undefined : [...params] } });
    },
    publish(queueId, data, headers, options) {
      checkOpen();
      const context = useModule("queue");
      const settings = options === undefined ? headers : { ...options, headers: (headers ?? {}) as Headers };
      steps.push({ publish: checkPublish(context, queueId, data, settings), context });
    },
  };
  let returned: unknown;
  try {
    returned = record(builder);
  } finally {
    open = false;
  }
  if (returned !== undefined && typeof (returned as { then?: unknown })?.then === "function") {
    throw batchError(databaseId, "the function given to batch() returned a promise; it must list its steps synchronously", "drop async/await inside it: compute values before calling batch()");
  }
  return steps;
}

async function runBatch(database: SqlDatabase, steps: BatchStep[]): Promise<ExecResult[]> {
  const joins = (step: BatchStep): boolean => "publish" in step && (step.publish.handle.storesIn?.(database.id) ?? false);
  if (database.batch && !database.currentTransaction()) {
    const native = await nativeSteps(steps, joins);
    if (native) return runNativeBatch(database.batch.bind(database), native);
  }
  return inTransaction(database, async (tx, scope) => {
    const results: ExecResult[] = [];
    for (const step of steps) {
      if ("statement" in step) results.push(await tx.execute(step.statement.sql, step.statement.params));
      else if (joins(step) || !scope) await sendPublish(scope ? withTransaction(step.context, scope) : step.context, step.publish);
      else await deferPublish(step, scope);
    }
    return results;
  });
}

type NativeStep = DatabaseBatchStep | Extract<BatchStep, { publish: CheckedPublish }>;

/** The steps as the database's own batch takes them; undefined when a publish joining it cannot be one (a driver on this thread). */
async function nativeSteps(steps: BatchStep[], joins: (step: BatchStep) => boolean): Promise<NativeStep[] | undefined> {
  const native: NativeStep[] = [];
  for (const step of steps) {
    if ("statement" in step) native.push(step.statement);
    else if (!joins(step)) native.push(step);
    else {
      const { publish, context } = step;
      const queueStep = await sendPublish(context, publish, (handle) => handle.batchStep?.(publish.data, publish.headers, publish.unique ?? publish.options, publish.unique !== undefined) ?? Promise.resolve(undefined));
      if (!queueStep) return undefined;
      native.push(queueStep);
    }
  }
  return native;
}

/** The database's own batch (one message on a writer thread); publishes to queues elsewhere wait for its commit. */
async function runNativeBatch(batch: NonNullable<SqlDatabase["batch"]>, steps: NativeStep[]): Promise<ExecResult[]> {
  const context = currentContext();
  const scope = new CommitScope(context?.transaction);
  const databaseSteps: DatabaseBatchStep[] = [];
  for (const step of steps) {
    if ("publish" in step) await deferPublish(step, scope);
    else databaseSteps.push(step);
  }
  let results: ExecResult[];
  try {
    results = databaseSteps.length > 0 ? await batch(databaseSteps) : [];
  } catch (error) {
    scope.rolledBack();
    throw error;
  }
  await scope.committed();
  return results;
}

/**
 * A publish that does not join the transaction: a memory queue's is prepared now (a unique key
 * reserved), admitted after the commit and discarded if it rolls back; any other is sent after the commit.
 */
async function deferPublish(step: Extract<BatchStep, { publish: CheckedPublish }>, scope: TransactionScope): Promise<void> {
  const { publish, context } = step;
  const prepared = await sendPublish(context, publish, () => prepareInTransaction(scope, publish));
  if (prepared === undefined) scope.afterCommit(async () => void (await sendPublish({ ...context, transaction: undefined }, publish)));
}

/**
 * What must wait for a transaction's commit (a memory-queue publish made inside it), and what
 * undoes its reservations if it rolls back (a unique publish's key). An inner transaction that
 * committed hands both to the one enclosing it; the outermost runs the commit tasks once it
 * committed, and its `transaction()` resolves when they are done. A transaction that rolls back
 * drops its commit tasks and runs its rollback tasks (those its committed inner ones handed it too).
 */
class CommitScope implements TransactionScope {
  readonly #tasks: (() => Promise<void>)[] = [];
  readonly #undo: (() => void)[] = [];
  readonly #parent: TransactionScope | undefined;

  constructor(parent: TransactionScope | undefined) {
    this.#parent = parent;
  }

  afterCommit(task: () => Promise<void>): void {
    this.#tasks.push(task);
  }

  onRollback(task: () => void): void {
    this.#undo.push(task);
  }

  /** The driver's undo only frees what it reserved in memory; it does not throw. */
  rolledBack(): void {
    for (const task of this.#undo) task();
  }

  async committed(): Promise<void> {
    const tasks = this.#tasks;
    if (this.#parent) {
      for (const task of tasks) this.#parent.afterCommit(task);
      for (const task of this.#undo) this.#parent.onRollback(task);
      return;
    }
    if (tasks.length === 0) return;
    if (tasks.length === 1) return tasks[0]();
    await Promise.all(tasks.map((task) => task()));
  }
}

function wrapExecutor(executor: SqlExecutor): Executor {
  return {
    type: () => executor.dialect,
    query: async <Row extends object = SqlRow>(text: string, params?: readonly unknown[]) => (await executor.query(text, params)) as Row[],
    execute: (text, params) => executor.execute(text, params),
  };
}
