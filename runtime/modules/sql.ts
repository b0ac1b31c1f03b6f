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
 */
import { TaskrtError } from "../errors.ts";
import type { ExecResult, SqlDatabase, SqlDialect, SqlExecutor, SqlRow } from "../drivers/sql/driver.ts";
import { currentContext, runInContext, useModule, withTransaction, type TransactionScope } from "./context.ts";
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

export interface Database extends Executor {
  /** Commits when `fn` resolves, rolls back and rethrows when it throws; nested calls are savepoints. */
  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T>;
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
      const checkedDatabase = checked();
      const context = currentContext();
      if (!context) return checkedDatabase.transaction((tx) => fn(wrapExecutor(tx)));
      const scope = new CommitScope(context.transaction);
      const inside = withTransaction(context, scope);
      let result: Awaited<ReturnType<typeof fn>>;
      try {
        result = await checkedDatabase.transaction((tx) => runInContext(inside, () => fn(wrapExecutor(tx))));
      } catch (error) {
        scope.rolledBack();
        throw error;
      }
      await scope.committed();
      return result;
    },
    release() {
      released = true;
    },
  };
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
