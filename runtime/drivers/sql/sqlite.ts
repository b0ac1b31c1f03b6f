/**
 * @module drivers/sql/sqlite — the SQLite driver: one better-sqlite3 connection in WAL mode,
 * statements prepared once per SQL text, and transactions that take turns on the connection and
 * share their COMMIT (group commit), so one fsync covers many of them.
 *
 * States: CLOSED → `open()` → OPEN → `close()` → CLOSING → CLOSED; `open()` may run again after
 * a close (a supervisor restart). CLOSING refuses new work from outside a transaction, lets the
 * open transaction batch (and the statements queued before the close) finish for `closeTimeoutMs`,
 * then closes the connection; SQLite rolls back a batch still open at that point, and the callers
 * of its finished transactions are told nothing was committed.
 *
 * Concurrency: better-sqlite3 answers synchronously, so a statement outside a transaction runs
 * to completion at once and needs no lock. A transaction spans awaits, so it holds a FIFO lock
 * while it runs; statements from other async contexts queue behind it, while statements from
 * inside it (found through this database's async slot, runtime/async-slots.ts) run at once. Nested `transaction()`
 * calls inside a transaction become savepoints, one at a time.
 *
 * Group commit (rules in sqlite-batch.ts): transactions waiting for the lock run one after another
 * in one BEGIN … COMMIT, each in a savepoint of its own, and their promises settle when that COMMIT
 * returned (under synchronous FULL, after its fsync). A write statement from outside any
 * transaction (an autocommit UPDATE) is a transaction of one statement: it joins the batch the same
 * way, so it neither pays an fsync of its own nor ends the batch. Statements that cannot run inside
 * a transaction (PRAGMA, VACUUM, ATTACH, DETACH, BEGIN and the like, scripts of several statements,
 * anything with OR ROLLBACK) and reads that cannot go to the read connection still run on their
 * own, after the open batch's COMMIT, which ends it. So a transaction function must never wait
 * for another caller's transaction or lone write to have committed (an app mutex held across a
 * transaction, say): in one batch, that COMMIT waits for this function. BEGIN, COMMIT, END and ROLLBACK are refused inside a transaction.
 *
 * Reads: on a WAL file, a read from outside any transaction that would have to wait for the lock
 * runs instead on a second, read-only connection, which sees the last committed state and never
 * the open batch; on ":memory:" (or with `readConnection: false`) it waits its turn.
 * Parameters are a positional array for `?` placeholders (converted by sqlite-parameters.ts).
 * Integers read back as JS numbers (lossy past 2^53).
 */
import path from "node:path";
import type BetterSqlite3 from "better-sqlite3";
import { AsyncSlot } from "../../async-slots.ts";
import { errorMessage } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import { notOpenError, transactionFinishedError, type ExecResult, type SqlDatabase, type SqlExecutor, type SqlRow } from "./driver.ts";
import { GroupCommit, TURN, WaitQueue, type BatchLimits } from "./sqlite-batch.ts";
import { openConnection, type SqliteSynchronous } from "./sqlite-connection.ts";
import * as errors from "./sqlite-errors.ts";
import { bindParameters } from "./sqlite-parameters.ts";
import type { SqliteReader } from "./sqlite-reader.ts";
import { ConnectionStatements } from "./sqlite-statements.ts";

export { STATEMENT_CACHE_SIZE } from "./sqlite-statements.ts";
export type { SqliteSynchronous } from "./sqlite-connection.ts";

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
  /** At most this many transactions share one COMMIT; 1 commits each on its own. */
  batchMaxTransactions?: number;
  /** A batch open this long commits after the transaction running in it, even with more waiting. */
  batchMaxMs?: number;
  /** Serve reads from outside a transaction on a read-only connection while the lock is held (WAL files only). */
  readConnection?: boolean;
}

/** Used where the options leave them out; the `db.sql.sqlite` schema should carry the same values. */
export const SQLITE_BATCH_DEFAULTS = { batchMaxTransactions: 1000, batchMaxMs: 20, readConnection: true } as const;

/** A transaction's executor; `transaction` opens a savepoint inside it. */
export interface SqliteTransaction extends SqlExecutor {
  transaction<T>(fn: (tx: SqliteTransaction) => Promise<T>): Promise<T>;
}

export const SQLITE_STATE = { CLOSED: "CLOSED", OPEN: "OPEN", CLOSING: "CLOSING" } as const;
export type SqliteState = (typeof SQLITE_STATE)[keyof typeof SQLITE_STATE];

/** The savepoint each transaction of a batch runs in; nested ones are numbered by depth. */
const BATCH_SAVEPOINT = "taskrt_transaction";
const LONE_WRITE_UNDO = [`ROLLBACK TO ${BATCH_SAVEPOINT}`, `RELEASE ${BATCH_SAVEPOINT}`];

interface TransactionFrame {
  active: boolean;
  parent: TransactionFrame | undefined;
  depth: number;
  executor: SqliteTransaction;
  /** Serialises savepoints opened inside this frame, so their SAVEPOINT/RELEASE pairs never interleave. */
  savepoints: WaitQueue;
}

export class SqliteDatabase implements SqlDatabase {
  readonly id: string;
  readonly dialect = "sqlite" as const;
  /** The file as configured, for messages and `describe()`. */
  readonly file: string;
  /** Absolute path, or ":memory:". */
  readonly path: string;
  readonly #options: SqliteOptions;
  readonly #limits: BatchLimits;
  readonly #group: GroupCommit;
  readonly #lock: WaitQueue;
  /** This database's open transaction in the current async context (one slot per database). */
  readonly #frames = new AsyncSlot<TransactionFrame>();
  #connection: BetterSqlite3.Database | undefined;
  #statements: ConnectionStatements | undefined;
  #reader: SqliteReader | undefined;
  #state: SqliteState = SQLITE_STATE.CLOSED;
  #closing: Promise<void> | undefined;
  #journalMode = "";
  readonly #commitListeners = new Set<() => void>();

  constructor(options: SqliteOptions) {
    this.#options = options;
    this.#limits = {
      maxTransactions: options.batchMaxTransactions ?? SQLITE_BATCH_DEFAULTS.batchMaxTransactions,
      maxMs: options.batchMaxMs ?? SQLITE_BATCH_DEFAULTS.batchMaxMs,
    };
    this.id = options.id;
    this.file = options.file;
    this.path = options.file === ":memory:" ? ":memory:" : path.resolve(options.file);
    this.#group = new GroupCommit(this.#limits, {
      begin: () => this.#run("BEGIN IMMEDIATE"),
      commit: () => this.#run("COMMIT"),
      rollback: (reason) => this.#rollback(["ROLLBACK"], reason),
      inTransaction: () => this.#connection?.inTransaction ?? false,
      lostError: () => errors.batchRolledBackError(this.id),
      committed: () => this.#notifyCommitted(),
    });
    this.#lock = this.#group.lock;
  }

  get state(): SqliteState {
    return this.#state;
  }

  /** Prepared statements held on the main connection; at most STATEMENT_CACHE_SIZE. */
  get cachedStatementCount(): number {
    return this.#statements?.size ?? 0;
  }

  /** `wal` once open on a file, `memory` for ":memory:". */
  get journalMode(): string {
    return this.#journalMode;
  }

  /** COMMITs of transaction batches so far: compared with the transactions run, what group commit saved. */
  get commitCount(): number {
    return this.#group.commitCount;
  }

  /**
   * Calls `listener` after every COMMIT of a transaction batch (not after writes that commit on
   * their own, such as a PRAGMA or a script), so a driver sharing the database learns when what
   * it wrote inside a caller's transaction became visible. Returns the function that unsubscribes.
   */
  onCommit(listener: () => void): () => void {
    this.#commitListeners.add(listener);
    return () => void this.#commitListeners.delete(listener);
  }

  /** Whether reads from outside a transaction can run on the read-only connection while the lock is held. */
  get hasReadConnection(): boolean {
    return this.#reader !== undefined;
  }

  async open(): Promise<void> {
    if (this.#closing) await this.#closing;
    if (this.#state === SQLITE_STATE.OPEN) return;
    const opened = openConnection({
      id: this.id,
      path: this.path,
      busyTimeoutMs: this.#options.busyTimeoutMs,
      synchronous: this.#options.synchronous,
      readConnection: this.#options.readConnection ?? SQLITE_BATCH_DEFAULTS.readConnection,
      check: () => checkLimits(this.#limits),
    });
    this.#connection = opened.connection;
    this.#journalMode = opened.journalMode;
    this.#reader = opened.reader;
    this.#statements = new ConnectionStatements(opened.connection, this.id, this.path);
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
    if (this.#joinsBatchFromOutside(sql)) return this.#loneWrite(() => this.#query(sql, params, false));
    if (this.#lock.held) {
      return this.#waitOrJoin(
        (executor) => executor.query(sql, params),
        () => this.#query(sql, params, false),
        () => this.#readElsewhere(sql, params),
      );
    }
    try {
      return Promise.resolve(this.#query(sql, params, false));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  execute(sql: string, params?: readonly unknown[]): Promise<ExecResult> {
    if (this.#joinsBatchFromOutside(sql)) return this.#loneWrite(() => this.#execute(sql, params, false));
    if (this.#lock.held) return this.#waitOrJoin((executor) => executor.execute(sql, params), () => this.#execute(sql, params, false));
    try {
      return Promise.resolve(this.#execute(sql, params, false));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async transaction<T>(fn: (tx: SqliteTransaction) => Promise<T>): Promise<T> {
    const outer = this.#activeFrame();
    if (outer) return this.#savepoint(outer, fn);
    if (this.#state !== SQLITE_STATE.OPEN) throw notOpenError(this.id);
    const batch = await this.#group.enter();
    let result: T;
    try {
      result = await this.#inSavepoint(BATCH_SAVEPOINT, undefined, fn);
    } finally {
      this.#group.leave(batch);
    }
    await batch.committed;
    return result;
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
   * statements bypass the lock and the batches: one sent while a batch is open lands inside it, so
   * such a caller sends its writes from inside a `transaction()` of its own.
   */
  raw(): BetterSqlite3.Database {
    return this.#connectionOrThrow();
  }

  /**
   * A write from outside any transaction that can run inside one. Inside a transaction's async
   * context (the lock is held then) the statement belongs to that transaction instead.
   */
  #joinsBatchFromOutside(sql: string): boolean {
    if (this.#lock.held && this.#activeFrame()) return false;
    return this.#statements?.joinsBatch(sql) ?? false;
  }

  /**
   * Runs a lone write as a one-statement transaction in the group-commit batch, in a savepoint of
   * its own: a failure undoes it alone and rejects only its caller, success resolves after the
   * batch's COMMIT. Committing it alone would cost an fsync of its own and end the open batch.
   */
  async #loneWrite<T>(run: () => T): Promise<T> {
    if (this.#state !== SQLITE_STATE.OPEN) throw notOpenError(this.id);
    const batch = await this.#group.enter();
    let result: T;
    try {
      this.#run(`SAVEPOINT ${BATCH_SAVEPOINT}`);
      try {
        result = run();
      } catch (error) {
        this.#rollback(LONE_WRITE_UNDO, error);
        throw error;
      }
      this.#finish(`RELEASE ${BATCH_SAVEPOINT}`, LONE_WRITE_UNDO);
    } finally {
      this.#group.leave(batch);
    }
    await batch.committed;
    return result;
  }

  /** The lock is held: join the transaction this call runs inside, read elsewhere, or queue behind it. */
  async #waitOrJoin<T>(inside: (executor: SqlExecutor) => Promise<T>, outside: () => T, elsewhere?: () => T | undefined): Promise<T> {
    const frame = this.#activeFrame();
    if (frame) return inside(frame.executor);
    if (this.#state !== SQLITE_STATE.OPEN) throw notOpenError(this.id);
    const answered = elsewhere?.();
    if (answered !== undefined) return answered;
    await this.#lock.acquire(TURN.STATEMENT);
    try {
      return outside();
    } finally {
      this.#lock.release();
    }
  }

  #readElsewhere(sql: string, params: readonly unknown[] | undefined): SqlRow[] | undefined {
    return this.#reader?.tryQuery(sql, bindParameters(this.id, params));
  }

  async #savepoint<T>(parent: TransactionFrame, fn: (tx: SqliteTransaction) => Promise<T>): Promise<T> {
    await parent.savepoints.acquire(TURN.TRANSACTION);
    try {
      if (!parent.active) throw transactionFinishedError(this.id);
      return await this.#inSavepoint(`taskrt_savepoint_${parent.depth + 1}`, parent, fn);
    } finally {
      parent.savepoints.release();
    }
  }

  /** Runs `fn` in savepoint `name`: released when it resolves, rolled back to when it throws. */
  async #inSavepoint<T>(name: string, parent: TransactionFrame | undefined, fn: (tx: SqliteTransaction) => Promise<T>): Promise<T> {
    this.#run(`SAVEPOINT ${name}`);
    const frame = this.#newFrame(parent);
    const undo = [`ROLLBACK TO ${name}`, `RELEASE ${name}`];
    let result: T;
    try {
      result = await this.#frames.run(frame, () => fn(frame.executor));
    } catch (error) {
      frame.active = false;
      this.#rollback(undo, error);
      throw error;
    }
    frame.active = false;
    this.#finish(`RELEASE ${name}`, undo);
    return result;
  }

  #newFrame(parent: TransactionFrame | undefined): TransactionFrame {
    const frame: TransactionFrame = {
      active: true,
      parent,
      depth: parent ? parent.depth + 1 : 0,
      executor: undefined as unknown as SqliteTransaction,
      savepoints: new WaitQueue(),
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
      query: (sql, params) => guarded(() => this.#query(sql, params, true)),
      execute: (sql, params) => guarded(() => this.#execute(sql, params, true)),
      transaction: (fn) => this.#savepoint(frame, fn),
    };
    return frame;
  }

  /** A statement on a transaction that ended, or that SQLite rolled back on its own, must not run in autocommit. */
  #assertUsable(frame: TransactionFrame): void {
    if (!frame.active) throw transactionFinishedError(this.id);
    const connection = this.#connection;
    if (connection && !connection.inTransaction) throw errors.endedInsideError(this.id);
  }

  /** The innermost transaction of the current async context that is still open. */
  #activeFrame(): TransactionFrame | undefined {
    let frame = this.#frames.get();
    while (frame && !frame.active) frame = frame.parent;
    return frame;
  }

  /** RELEASE; if that fails while the transaction is still open, undo it and report the failure. */
  #finish(statement: string, undo: readonly string[]): void {
    if (!this.#connectionOrThrow().inTransaction) throw errors.endedInsideError(this.id);
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

  #notifyCommitted(): void {
    for (const listener of this.#commitListeners) {
      try {
        listener();
      } catch (error) {
        // The COMMIT happened; a listener's failure must not turn it into a failure for its callers.
        this.#options.logger?.error("commit listener failed", { error: errorMessage(error) });
      }
    }
  }

  #run(statement: string): void {
    this.#statementsOrThrow().run(statement);
  }

  #query(sql: string, params: readonly unknown[] | undefined, inTransaction: boolean): SqlRow[] {
    return this.#statementsOrThrow().query(sql, params, inTransaction);
  }

  #execute(sql: string, params: readonly unknown[] | undefined, inTransaction: boolean): ExecResult {
    return this.#statementsOrThrow().execute(sql, params, inTransaction);
  }

  #connectionOrThrow(): BetterSqlite3.Database {
    const connection = this.#connection;
    if (!connection) throw notOpenError(this.id);
    return connection;
  }

  #statementsOrThrow(): ConnectionStatements {
    const statements = this.#statements;
    if (!statements) throw notOpenError(this.id);
    return statements;
  }

  async #closeAfterTransaction(): Promise<void> {
    const turn = this.#lock.acquire(TURN.STATEMENT);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      turn.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(resolve, this.#options.closeTimeoutMs, true))),
    ]);
    clearTimeout(timer);
    try {
      if (timedOut) {
        this.#options.logger?.warn("closing with a transaction still open; SQLite rolls it back", { waited_ms: this.#options.closeTimeoutMs });
        // The batch's finished transactions wait for a COMMIT that will never come.
        this.#group.abandon(errors.closedBeforeCommitError(this.id));
      }
      this.#reader?.close();
      this.#connection?.close();
    } catch (error) {
      throw errors.sqlError(this.id, this.path, error);
    } finally {
      this.#connection = undefined;
      this.#statements = undefined;
      this.#reader = undefined;
      this.#state = SQLITE_STATE.CLOSED;
      // A timed-out close still holds a place in the queue; give it back once reached.
      if (timedOut) void turn.then(() => this.#lock.release());
      else this.#lock.release();
    }
  }
}

function checkLimits(limits: BatchLimits): void {
  if (!Number.isInteger(limits.maxTransactions) || limits.maxTransactions < 1) {
    throw new Error(`batchMaxTransactions must be a whole number of at least 1, got ${String(limits.maxTransactions)}`);
  }
  if (!Number.isFinite(limits.maxMs) || limits.maxMs < 0) {
    throw new Error(`batchMaxMs must be a number of milliseconds of at least 0, got ${String(limits.maxMs)}`);
  }
}
