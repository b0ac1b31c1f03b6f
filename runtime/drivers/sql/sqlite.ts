/**
 * @module drivers/sql/sqlite — the SQLite driver: one better-sqlite3 connection in WAL mode,
 * statements prepared once per SQL text, and transactions that own the connection while other
 * callers wait their turn.
 *
 * States: CLOSED → `open()` → OPEN → `close()` → CLOSING → CLOSED; `open()` may run again after
 * a close (a supervisor restart). CLOSING refuses new work from outside a transaction, lets the
 * open transaction (and the statements queued before the close) finish for `closeTimeoutMs`, then
 * closes the connection; SQLite rolls back a transaction still open at that point.
 *
 * Concurrency: better-sqlite3 answers synchronously, so a statement outside a transaction runs
 * to completion at once and needs no lock. A transaction spans awaits, so it holds a FIFO lock
 * from BEGIN to COMMIT/ROLLBACK; statements from other async contexts queue behind it, while
 * statements from inside it (found through this database's AsyncLocalStorage) run at once.
 * Nested `transaction()` calls inside a transaction become savepoints, one at a time.
 *
 * Parameters are a positional array for `?` placeholders. Booleans bind as 1/0, `undefined` as
 * NULL, a Date as its ISO-8601 text, a plain object or array as its JSON text; strings, numbers,
 * bigints, null and byte arrays bind as they are. Integers read back as JS numbers (lossy past 2^53).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import fs from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { TaskrtError, errorMessage } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import type { ExecResult, SqlDatabase, SqlExecutor, SqlRow } from "./driver.ts";

export type SqliteSynchronous = "OFF" | "NORMAL" | "FULL" | "EXTRA";

export interface SqliteOptions {
  /** Entry id: every error names it. */
  id: string;
  /** A path (relative ones resolve against the working directory, as Wippy's) or ":memory:". */
  file: string;
  busyTimeoutMs: number;
  synchronous: SqliteSynchronous;
  /** How long `close()` lets an open transaction finish before closing under it. */
  closeTimeoutMs: number;
  logger?: Logger;
}

/** A transaction's executor; `transaction` opens a savepoint inside it. */
export interface SqliteTransaction extends SqlExecutor {
  transaction<T>(fn: (tx: SqliteTransaction) => Promise<T>): Promise<T>;
}

export const SQLITE_STATE = { CLOSED: "CLOSED", OPEN: "OPEN", CLOSING: "CLOSING" } as const;
export type SqliteState = (typeof SQLITE_STATE)[keyof typeof SQLITE_STATE];

/** Enough for every distinct statement of an application; a hit costs two Map operations. */
export const STATEMENT_CACHE_SIZE = 200;
const SYNCHRONOUS_LEVELS: Record<SqliteSynchronous, number> = { OFF: 0, NORMAL: 1, FULL: 2, EXTRA: 3 };
const NO_ROWS: SqlRow[] = [];
const NO_PARAMS: readonly unknown[] = [];
/** INSERT or REPLACE, possibly after comments or a WITH clause: only these report lastInsertId. */
const INSERTS = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*(?:INSERT|REPLACE|WITH\b[\s\S]*\b(?:INSERT|REPLACE))\b/i;

interface CachedStatement {
  statement: BetterSqlite3.Statement;
  inserts: boolean;
}

interface TransactionFrame {
  active: boolean;
  parent: TransactionFrame | undefined;
  depth: number;
  executor: SqliteTransaction;
  /** Serialises savepoints opened inside this frame, so their BEGIN/RELEASE pairs never interleave. */
  savepoints: FifoLock;
}

/** A FIFO lock whose `release` hands the lock straight to the next waiter, so nobody jumps the queue. */
class FifoLock {
  #held = false;
  readonly #waiters: (() => void)[] = [];

  get held(): boolean {
    return this.#held;
  }

  acquire(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#held = false;
  }
}

export class SqliteDatabase implements SqlDatabase {
  readonly id: string;
  readonly dialect = "sqlite" as const;
  /** The file as configured, for messages and `describe()`. */
  readonly file: string;
  /** Absolute path, or ":memory:". */
  readonly path: string;
  readonly #options: SqliteOptions;
  readonly #lock = new FifoLock();
  readonly #frames = new AsyncLocalStorage<TransactionFrame>();
  readonly #statements = new Map<string, CachedStatement>();
  #connection: BetterSqlite3.Database | undefined;
  #state: SqliteState = SQLITE_STATE.CLOSED;
  #closing: Promise<void> | undefined;
  #journalMode = "";

  constructor(options: SqliteOptions) {
    this.#options = options;
    this.id = options.id;
    this.file = options.file;
    this.path = options.file === ":memory:" ? ":memory:" : path.resolve(options.file);
  }

  get state(): SqliteState {
    return this.#state;
  }

  /** Prepared statements held; at most STATEMENT_CACHE_SIZE. */
  get cachedStatementCount(): number {
    return this.#statements.size;
  }

  /** `wal` once open on a file, `memory` for ":memory:". */
  get journalMode(): string {
    return this.#journalMode;
  }

  async open(): Promise<void> {
    if (this.#closing) await this.#closing;
    if (this.#state === SQLITE_STATE.OPEN) return;
    if (this.path !== ":memory:") {
      const folder = path.dirname(this.path);
      try {
        fs.mkdirSync(folder, { recursive: true });
      } catch (error) {
        throw this.#cannotOpen(`cannot create its folder: ${errorMessage(error)}`, error);
      }
    }
    let connection: BetterSqlite3.Database;
    try {
      connection = new BetterSqlite3(this.path, { timeout: this.#options.busyTimeoutMs });
    } catch (error) {
      throw this.#cannotOpen(diagnoseOpenFailure(this.path, error), error);
    }
    try {
      const level = SYNCHRONOUS_LEVELS[this.#options.synchronous];
      if (level === undefined) throw new Error(`synchronous must be one of OFF, NORMAL, FULL, EXTRA, got ${JSON.stringify(this.#options.synchronous)}`);
      this.#journalMode = String(connection.pragma("journal_mode = WAL", { simple: true }));
      connection.pragma(`synchronous = ${level}`);
      connection.pragma("foreign_keys = ON");
    } catch (error) {
      connection.close();
      throw this.#cannotOpen(errorMessage(error), error);
    }
    this.#connection = connection;
    this.#state = SQLITE_STATE.OPEN;
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (this.#state === SQLITE_STATE.CLOSED) return Promise.resolve();
    this.#state = SQLITE_STATE.CLOSING;
    this.#closing = this.#closeAfterTransaction().finally(() => {
      this.#closing = undefined;
    });
    return this.#closing;
  }

  query(sql: string, params?: readonly unknown[]): Promise<SqlRow[]> {
    if (this.#lock.held) return this.#waitOrJoin((executor) => executor.query(sql, params), () => this.#query(sql, params));
    try {
      return Promise.resolve(this.#query(sql, params));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  execute(sql: string, params?: readonly unknown[]): Promise<ExecResult> {
    if (this.#lock.held) return this.#waitOrJoin((executor) => executor.execute(sql, params), () => this.#execute(sql, params));
    try {
      return Promise.resolve(this.#execute(sql, params));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async transaction<T>(fn: (tx: SqliteTransaction) => Promise<T>): Promise<T> {
    const outer = this.#activeFrame();
    if (outer) return this.#savepoint(outer, fn);
    if (this.#state !== SQLITE_STATE.OPEN) throw this.#notOpen();
    await this.#lock.acquire();
    try {
      this.#run("BEGIN IMMEDIATE");
      const frame = this.#newFrame(undefined);
      let result: T;
      try {
        result = await this.#frames.run(frame, () => fn(frame.executor));
      } catch (error) {
        frame.active = false;
        this.#rollback(["ROLLBACK"], error);
        throw error;
      }
      frame.active = false;
      this.#finish("COMMIT", ["ROLLBACK"]);
      return result;
    } finally {
      this.#lock.release();
    }
  }

  currentTransaction(): SqlExecutor | undefined {
    return this.#activeFrame()?.executor;
  }

  /**
   * Runs `fn` as if no transaction were open in this async context, so its `transaction()` waits
   * its turn instead of becoming a savepoint. For work that a handler's transaction merely
   * scheduled (a timer, a batch flush) and that must not be rolled back with it.
   */
  runOutsideTransaction<T>(fn: () => T): T {
    return this.#frames.exit(fn);
  }

  /**
   * The better-sqlite3 connection, for a driver sharing this database (the SQLite queue). Its
   * statements bypass the queue above: one sent while `connection.inTransaction` lands inside the
   * open transaction, so such a caller checks that and otherwise goes through `transaction()`.
   */
  raw(): BetterSqlite3.Database {
    return this.#connectionOrThrow();
  }

  /** The lock is held: join the transaction this call runs inside, or queue behind it. */
  async #waitOrJoin<T>(inside: (executor: SqlExecutor) => Promise<T>, outside: () => T): Promise<T> {
    const frame = this.#activeFrame();
    if (frame) return inside(frame.executor);
    if (this.#state !== SQLITE_STATE.OPEN) throw this.#notOpen();
    await this.#lock.acquire();
    try {
      return outside();
    } finally {
      this.#lock.release();
    }
  }

  async #savepoint<T>(parent: TransactionFrame, fn: (tx: SqliteTransaction) => Promise<T>): Promise<T> {
    await parent.savepoints.acquire();
    try {
      if (!parent.active) throw this.#finished();
      const name = `taskrt_savepoint_${parent.depth + 1}`;
      this.#run(`SAVEPOINT ${name}`);
      const frame = this.#newFrame(parent);
      let result: T;
      try {
        result = await this.#frames.run(frame, () => fn(frame.executor));
      } catch (error) {
        frame.active = false;
        this.#rollback([`ROLLBACK TO ${name}`, `RELEASE ${name}`], error);
        throw error;
      }
      frame.active = false;
      this.#finish(`RELEASE ${name}`, [`ROLLBACK TO ${name}`, `RELEASE ${name}`]);
      return result;
    } finally {
      parent.savepoints.release();
    }
  }

  #newFrame(parent: TransactionFrame | undefined): TransactionFrame {
    const frame: TransactionFrame = {
      active: true,
      parent,
      depth: parent ? parent.depth + 1 : 0,
      executor: undefined as unknown as SqliteTransaction,
      savepoints: new FifoLock(),
    };
    const guarded = <T>(run: () => T): Promise<T> => {
      try {
        this.#assertUsable(frame);
        return Promise.resolve(run());
      } catch (error) {
        return Promise.reject(error);
      }
    };
    frame.executor = {
      dialect: "sqlite",
      query: (sql, params) => guarded(() => this.#query(sql, params)),
      execute: (sql, params) => guarded(() => this.#execute(sql, params)),
      transaction: (fn) => this.#savepoint(frame, fn),
    };
    return frame;
  }

  /** A statement on a transaction that ended, or that SQLite rolled back on its own, must not run in autocommit. */
  #assertUsable(frame: TransactionFrame): void {
    if (!frame.active) throw this.#finished();
    const connection = this.#connection;
    if (connection && !connection.inTransaction) {
      throw this.#endedInside();
    }
  }

  /** The innermost transaction of the current async context that is still open. */
  #activeFrame(): TransactionFrame | undefined {
    let frame = this.#frames.getStore();
    while (frame && !frame.active) frame = frame.parent;
    return frame;
  }

  /** COMMIT or RELEASE; if that fails while the transaction is still open, undo it and report the failure. */
  #finish(statement: string, undo: readonly string[]): void {
    if (!this.#connectionOrThrow().inTransaction) {
      throw this.#endedInside();
    }
    try {
      this.#run(statement);
    } catch (error) {
      this.#rollback(undo, error);
      throw error;
    }
  }

  /** Undo after `reason`; the reason is what the caller sees, so a failing rollback is logged, not thrown. */
  #rollback(statements: readonly string[], reason: unknown): void {
    for (const statement of statements) {
      if (!this.#connection?.inTransaction) return;
      try {
        this.#run(statement);
      } catch (error) {
        this.#options.logger?.error("rollback failed", { statement, error: errorMessage(error), reason: errorMessage(reason) });
        return;
      }
    }
  }

  #run(statement: string): void {
    const connection = this.#connectionOrThrow();
    try {
      this.#prepare(connection, statement).statement.run();
    } catch (error) {
      throw this.#sqlError(error);
    }
  }

  #query(sql: string, params: readonly unknown[] | undefined): SqlRow[] {
    const connection = this.#connectionOrThrow();
    const values = this.#bindable(params);
    try {
      const { statement } = this.#prepare(connection, sql);
      if (statement.reader) return statement.all(values) as SqlRow[];
      statement.run(values);
      return NO_ROWS;
    } catch (error) {
      throw this.#sqlError(error);
    }
  }

  #execute(sql: string, params: readonly unknown[] | undefined): ExecResult {
    const connection = this.#connectionOrThrow();
    const values = this.#bindable(params);
    let cached: CachedStatement;
    try {
      cached = this.#prepare(connection, sql);
    } catch (error) {
      if (values.length === 0 && isMultipleStatements(error)) return this.#script(connection, sql);
      throw this.#sqlError(error);
    }
    try {
      const info = cached.statement.run(values);
      return { lastInsertId: cached.inserts && info.changes > 0 ? Number(info.lastInsertRowid) : null, rowsAffected: info.changes };
    } catch (error) {
      throw this.#sqlError(error);
    }
  }

  /** Several statements without parameters (a migration): run as one script, not cached. */
  #script(connection: BetterSqlite3.Database, sql: string): ExecResult {
    const totalChanges = this.#prepare(connection, "SELECT total_changes() AS n").statement.pluck();
    try {
      const before = totalChanges.get() as number;
      connection.exec(sql);
      return { lastInsertId: null, rowsAffected: (totalChanges.get() as number) - before };
    } catch (error) {
      throw this.#sqlError(error);
    }
  }

  #prepare(connection: BetterSqlite3.Database, sql: string): CachedStatement {
    const statements = this.#statements;
    let cached = statements.get(sql);
    if (cached) {
      statements.delete(sql);
      statements.set(sql, cached);
      return cached;
    }
    cached = { statement: connection.prepare(sql), inserts: INSERTS.test(sql) };
    if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
    statements.set(sql, cached);
    return cached;
  }

  #bindable(params: readonly unknown[] | undefined): readonly unknown[] {
    if (params === undefined) return NO_PARAMS;
    if (!Array.isArray(params)) {
      throw new TaskrtError("E_SQL", `sql failed on ${this.id}: parameters must be an array, got ${describeValue(params)}`, {
        entryId: this.id,
        hint: "pass the values for the ? placeholders as an array: query(sql, [a, b])",
      });
    }
    let converted: unknown[] | undefined;
    for (let index = 0; index < params.length; index++) {
      const value = params[index];
      const bound = this.#bindValue(value, index);
      if (bound !== value) (converted ??= params.slice())[index] = bound;
    }
    return converted ?? params;
  }

  #bindValue(value: unknown, index: number): unknown {
    switch (typeof value) {
      case "string":
      case "number":
      case "bigint":
        return value;
      case "boolean":
        return value ? 1 : 0;
      case "undefined":
        return null;
      case "object":
        if (value === null || ArrayBuffer.isView(value)) return value;
        if (value instanceof Date) {
          if (Number.isNaN(value.getTime())) throw this.#cannotBind(index, "an invalid Date");
          return value.toISOString();
        }
        return JSON.stringify(value);
      default:
        throw this.#cannotBind(index, `a ${typeof value}`);
    }
  }

  #cannotBind(index: number, what: string): TaskrtError {
    return new TaskrtError("E_SQL", `sql failed on ${this.id}: cannot bind parameter ${index + 1}, ${what}`, {
      entryId: this.id,
      hint: "parameters may be strings, numbers, bigints, booleans, null, Dates, byte arrays, or JSON-serialisable objects",
    });
  }

  #connectionOrThrow(): BetterSqlite3.Database {
    const connection = this.#connection;
    if (!connection) throw this.#notOpen();
    return connection;
  }

  async #closeAfterTransaction(): Promise<void> {
    const turn = this.#lock.acquire();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      turn.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(resolve, this.#options.closeTimeoutMs, true))),
    ]);
    clearTimeout(timer);
    try {
      if (timedOut) {
        this.#options.logger?.warn("closing with a transaction still open; SQLite rolls it back", { waited_ms: this.#options.closeTimeoutMs });
      }
      this.#connection?.close();
    } catch (error) {
      throw this.#sqlError(error);
    } finally {
      this.#connection = undefined;
      this.#statements.clear();
      this.#state = SQLITE_STATE.CLOSED;
      // A timed-out close still holds a place in the queue; give it back once reached.
      if (timedOut) void turn.then(() => this.#lock.release());
      else this.#lock.release();
    }
  }

  #sqlError(error: unknown): TaskrtError {
    if (error instanceof TaskrtError) return error;
    const sqliteCode = (error as { code?: unknown }).code;
    const code = typeof sqliteCode === "string" && sqliteCode.startsWith("SQLITE_CONSTRAINT") ? "E_SQL_CONSTRAINT" : "E_SQL";
    return new TaskrtError(code, `sql failed on ${this.id}: ${errorMessage(error)}`, {
      entryId: this.id,
      cause: error,
      hint: typeof sqliteCode === "string" ? hintFor(sqliteCode, this.path) : undefined,
    });
  }

  #notOpen(): TaskrtError {
    return new TaskrtError("E_DB_UNAVAILABLE", `database ${this.id} is not open`, {
      entryId: this.id,
      hint: `start ${this.id} before using it (lifecycle.auto_start, or list it in the user's lifecycle.requires)`,
    });
  }

  #finished(): TaskrtError {
    return new TaskrtError("E_TX_FINISHED", `transaction on ${this.id} is already finished`, {
      entryId: this.id,
      hint: "use the transaction only inside the function passed to transaction(), and await every statement before it returns",
    });
  }

  #endedInside(): TaskrtError {
    return new TaskrtError("E_SQL", `sql failed on ${this.id}: the transaction was ended inside SQLite (rolled back after an error, or by a COMMIT/ROLLBACK statement)`, {
      entryId: this.id,
      hint: "after a failed statement, throw from the transaction function instead of carrying on; never send BEGIN, COMMIT or ROLLBACK yourself",
    });
  }

  #cannotOpen(reason: string, cause: unknown): TaskrtError {
    return new TaskrtError("E_DB_UNAVAILABLE", `cannot open database ${this.id} at ${this.path}: ${reason}`, {
      entryId: this.id,
      cause,
      hint: "point `file` at a database file in a folder the process can create and write, or use \":memory:\"",
    });
  }
}

function hintFor(sqliteCode: string, file: string): string | undefined {
  if (sqliteCode.startsWith("SQLITE_READONLY")) {
    return `the database is read-only: check that ${file} and its folder are writable, the disk has space, and PRAGMA query_only is off`;
  }
  if (sqliteCode.startsWith("SQLITE_BUSY")) return "another connection held the database lock longer than busy_timeout";
  if (sqliteCode === "SQLITE_FULL") return "the disk is full";
  if (sqliteCode.startsWith("SQLITE_IOERR")) return `reading or writing ${file} failed: check the disk`;
  return undefined;
}

/** SQLite says only "unable to open database file"; the file system says why. */
function diagnoseOpenFailure(file: string, error: unknown): string {
  try {
    if (fs.statSync(file).isDirectory()) return "the path is a directory";
    fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK);
  } catch (osError) {
    if ((osError as NodeJS.ErrnoException).code !== "ENOENT") return errorMessage(osError);
    try {
      fs.accessSync(path.dirname(file), fs.constants.W_OK | fs.constants.X_OK);
    } catch (folderError) {
      return `its folder is not writable: ${errorMessage(folderError)}`;
    }
  }
  return errorMessage(error);
}

function isMultipleStatements(error: unknown): boolean {
  return error instanceof RangeError && error.message.includes("more than one statement");
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  return typeof value === "object" ? value.constructor?.name ?? "object" : typeof value;
}
