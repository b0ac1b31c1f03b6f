/**
 * @module drivers/sql/postgres — the PostgreSQL driver: a `pg` pool whose statements take `?`
 * placeholders like SQLite's, and transactions pinned to one pooled connection.
 *
 * States: CLOSED → `open()` → OPENING → OPEN → `close()` → CLOSING → CLOSED; `open()` may run
 * again after a close (a supervisor restart), and reads the connection settings afresh each time.
 * `open()` connects and runs `SELECT 1`, so a wrong password or a server that is down fails the
 * start. CLOSING refuses new work from outside a transaction, lets running statements and open
 * transactions finish for `closeTimeoutMs`, then destroys the connections still busy (PostgreSQL
 * rolls back what they left open) and ends the pool.
 *
 * Transactions: BEGIN … COMMIT on one pooled connection; nested `transaction()` calls become
 * savepoints, one at a time per level. As with the SQLite driver, a statement sent through the
 * database from inside a transaction's async context (found through this database's
 * async slot, runtime/async-slots.ts) joins that transaction; statements from other contexts run on other
 * connections and never see its uncommitted rows. A transaction that PostgreSQL aborted (a
 * statement failed and the function carried on) is rolled back and reported, never "committed".
 *
 * Outages: pg's pool drops connections that fail and opens new ones on demand, so a database
 * restart needs no action here. While the server is unreachable a statement fails within
 * `connectTimeoutMs` with E_DB_UNAVAILABLE. A statement whose connection died under it fails the
 * same way and is not retried: it may already have run.
 *
 * Statements, parameters and lastInsertId: postgres-statements.ts; values: postgres-values.ts.
 */
import type { ConnectionOptions } from "node:tls";
import pg from "pg";
import { AsyncSlot } from "../../async-slots.ts";
import { errorMessage, type TaskrtError } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import { notOpenError, transactionFinishedError, type ExecResult, type SqlDatabase, type SqlExecutor, type SqlRow } from "./driver.ts";
import {
  classifyFailure,
  reasonOf,
  transactionAborted,
  transactionEndedInside,
  unavailable,
  type ServerSide,
} from "./postgres-errors.ts";
import { Lease } from "./postgres-lease.ts";
import { StatementCache, execResultOf, rowsOf, type PgAnswer, type PreparedStatement } from "./postgres-statements.ts";
import { RESULT_TYPES } from "./postgres-values.ts";

/** Where and how to connect, resolved (environment variables read) by the kind at each start. */
export interface PostgresConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  /** Absent: trust or peer authentication (or pg's own PGPASSWORD / ~/.pgpass lookup). */
  password?: string;
  /** false: no TLS. */
  ssl: false | ConnectionOptions;
  applicationName?: string;
  /** Server-side limits, sent at connect; absent leaves the server's setting. */
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
  /** Sent as `-c search_path=…` at connect. */
  searchPath?: string;
  /** Bounds connecting and waiting for a free pooled connection; 0 waits without limit. */
  connectTimeoutMs: number;
}

export interface PostgresPoolOptions {
  /** Connections open at most. */
  maxOpen: number;
  /** Idle connections kept for reuse; a connection released when this many are idle is closed. */
  maxIdle: number;
  /** A connection older than this is closed once idle; 0: never. */
  maxLifetimeMs: number;
}

export interface PostgresOptions {
  /** Entry id: every error names it. */
  id: string;
  /** Called at every open, so a restart sees changed environment variables. */
  connection: () => PostgresConnection | Promise<PostgresConnection>;
  pool: PostgresPoolOptions;
  /** How long `close()` lets running statements and transactions finish before cutting them off. */
  closeTimeoutMs: number;
  logger?: Logger;
}

/** A transaction's executor; `transaction` opens a savepoint inside it. */
export interface PostgresTransaction extends SqlExecutor {
  transaction<T>(fn: (tx: PostgresTransaction) => Promise<T>): Promise<T>;
}

export const POSTGRES_STATE = { CLOSED: "CLOSED", OPENING: "OPENING", OPEN: "OPEN", CLOSING: "CLOSING" } as const;
export type PostgresState = (typeof POSTGRES_STATE)[keyof typeof POSTGRES_STATE];

/** Connection counts of the live pool, for `describe()` and tests. */
export interface PostgresPoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** One open pool: what an operation started under a given `open()` belongs to. */
interface Session {
  pool: pg.Pool;
  server: ServerSide;
  /** Statements and transactions running outside any transaction frame. */
  busy: number;
  leases: Set<Lease>;
  onIdle: (() => void) | undefined;
}

interface TransactionFrame {
  active: boolean;
  parent: TransactionFrame | undefined;
  depth: number;
  session: Session;
  lease: Lease;
  executor: PostgresTransaction;
  /** Serialises savepoints opened inside this frame, so their SAVEPOINT/RELEASE pairs never interleave. */
  savepoints: Promise<void>;
}

export class PostgresDatabase implements SqlDatabase {
  readonly id: string;
  readonly dialect = "postgres" as const;
  readonly #options: PostgresOptions;
  /** This database's open transaction in the current async context (one slot per database). */
  readonly #frames = new AsyncSlot<TransactionFrame>();
  readonly #statements: StatementCache;
  #state: PostgresState = POSTGRES_STATE.CLOSED;
  #session: Session | undefined;
  #opening: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #target: string | undefined;

  constructor(options: PostgresOptions) {
    this.#options = options;
    this.id = options.id;
    this.#statements = new StatementCache(options.id);
  }

  get state(): PostgresState {
    return this.#state;
  }

  /** `host:port/database` of the last open, for messages and `describe()`; undefined before the first. */
  get target(): string | undefined {
    return this.#target;
  }

  get maxOpen(): number {
    return this.#options.pool.maxOpen;
  }

  get poolStats(): PostgresPoolStats | undefined {
    const pool = this.#session?.pool;
    return pool ? { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount } : undefined;
  }

  open(): Promise<void> {
    if (this.#opening) return this.#opening;
    this.#opening = this.#open().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (this.#state === POSTGRES_STATE.CLOSED && !this.#opening) return Promise.resolve();
    this.#closing = this.#close().finally(() => {
      this.#closing = undefined;
    });
    return this.#closing;
  }

  async query(sql: string, params?: readonly unknown[]): Promise<SqlRow[]> {
    const frame = this.#activeFrame();
    if (frame) return frame.executor.query(sql, params);
    const statement = this.#statements.prepare(sql, params);
    return this.#outside((session, lease) => this.#send(session, lease, statement).then(rowsOf));
  }

  async execute(sql: string, params?: readonly unknown[]): Promise<ExecResult> {
    const frame = this.#activeFrame();
    if (frame) return frame.executor.execute(sql, params);
    const statement = this.#statements.prepare(sql, params);
    return this.#outside((session, lease) => this.#send(session, lease, statement).then((answer) => execResultOf(statement, answer)));
  }

  async transaction<T>(fn: (tx: PostgresTransaction) => Promise<T>): Promise<T> {
    const outer = this.#activeFrame();
    if (outer) return this.#savepoint(outer, fn);
    return this.#outside(async (session, lease) => {
      await this.#control(session, lease, "BEGIN");
      const frame = this.#newFrame(session, lease, undefined);
      let result: T;
      try {
        result = await this.#frames.run(frame, () => fn(frame.executor));
      } catch (error) {
        frame.active = false;
        await this.#rollback(session, lease, ["ROLLBACK"], error);
        throw error;
      }
      frame.active = false;
      await this.#finish(session, lease, "COMMIT", ["ROLLBACK"]);
      return result;
    });
  }

  currentTransaction(): SqlExecutor | undefined {
    return this.#activeFrame()?.executor;
  }

  /**
   * Runs `fn` as if no transaction were open in this async context, so its statements take their
   * own connection: for work a handler's transaction merely scheduled, which must not roll back with it.
   */
  runOutsideTransaction<T>(fn: () => T): T {
    return this.#frames.exit(fn);
  }

  /**
   * A connection of its own, outside the pool, with the pool's settings: for LISTEN and session
   * locks, which must outlive any one statement. The caller ends it; its `error` event is the caller's to hear.
   */
  async connectDedicated(): Promise<pg.Client> {
    const connection = await this.#options.connection();
    const client = new pg.Client(clientConfig(connection));
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw unavailable({ id: this.id, target: `${connection.host}:${connection.port}/${connection.database}`, connectTimeoutMs: connection.connectTimeoutMs, maxOpen: this.#options.pool.maxOpen }, "cannot connect to", error);
    }
    return client;
  }

  async #open(): Promise<void> {
    if (this.#closing) await this.#closing;
    if (this.#state === POSTGRES_STATE.OPEN) return;
    this.#state = POSTGRES_STATE.OPENING;
    try {
      const connection = await this.#options.connection();
      const server: ServerSide = {
        id: this.id,
        target: `${connection.host}:${connection.port}/${connection.database}`,
        connectTimeoutMs: connection.connectTimeoutMs,
        maxOpen: this.#options.pool.maxOpen,
      };
      this.#target = server.target;
      const pool = this.#createPool(connection, server.target);
      try {
        const client = await pool.connect();
        try {
          await client.query("SELECT 1");
          client.release();
        } catch (error) {
          client.release(true);
          throw error;
        }
      } catch (error) {
        await pool.end().catch(() => undefined);
        throw unavailable(server, "cannot connect to", error);
      }
      this.#session = { pool, server, busy: 0, leases: new Set(), onIdle: undefined };
      this.#state = POSTGRES_STATE.OPEN;
    } catch (error) {
      this.#state = POSTGRES_STATE.CLOSED;
      throw error;
    }
  }

  #createPool(connection: PostgresConnection, target: string): pg.Pool {
    const pool = new pg.Pool({
      ...clientConfig(connection),
      max: this.#options.pool.maxOpen,
      // max_idle decides which idle connections stay; a timer closing them would fight it.
      idleTimeoutMillis: 0,
      maxLifetimeSeconds: this.#options.pool.maxLifetimeMs / 1000,
    });
    // pg-pool removes an idle connection that failed, then emits this; unheard, it would crash the process.
    pool.on("error", (error) => {
      this.#options.logger?.warn("an idle postgres connection was lost; the pool opens a new one when needed", { target, error: reasonOf(error) });
    });
    return pool;
  }

  async #close(): Promise<void> {
    if (this.#opening) await this.#opening.catch(() => undefined);
    const session = this.#session;
    if (!session) return;
    this.#state = POSTGRES_STATE.CLOSING;
    try {
      if (!(await this.#settled(session))) {
        this.#options.logger?.warn("closing with statements still running; their connections are cut and PostgreSQL rolls back open transactions", {
          waited_ms: this.#options.closeTimeoutMs,
          connections: session.leases.size,
        });
        for (const lease of session.leases) lease.release(true);
        session.leases.clear();
      }
      await session.pool.end();
    } finally {
      this.#session = undefined;
      this.#state = POSTGRES_STATE.CLOSED;
    }
  }

  /** Resolves true once nothing runs on `session`, false if that took longer than closeTimeoutMs. */
  #settled(session: Session): Promise<boolean> {
    if (session.busy === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), this.#options.closeTimeoutMs);
      session.onIdle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /** Runs `work` on a connection of its own, counted so `close()` can wait for it. */
  async #outside<T>(work: (session: Session, lease: Lease) => Promise<T>): Promise<T> {
    const session = this.#session;
    if (!session || this.#state !== POSTGRES_STATE.OPEN) throw notOpenError(this.id);
    session.busy++;
    try {
      let client: pg.PoolClient;
      try {
        client = await session.pool.connect();
      } catch (error) {
        throw unavailable(session.server, "cannot connect to", error);
      }
      const lease = new Lease(client, (error) => {
        this.#options.logger?.debug("a postgres connection failed while in use", { target: session.server.target, error: reasonOf(error) });
      });
      session.leases.add(lease);
      try {
        return await work(session, lease);
      } finally {
        session.leases.delete(lease);
        lease.release(session.pool.idleCount >= this.#options.pool.maxIdle);
      }
    } finally {
      session.busy--;
      if (session.busy === 0) session.onIdle?.();
    }
  }

  async #send(session: Session, lease: Lease, statement: PreparedStatement): Promise<PgAnswer> {
    try {
      return await lease.run(() => lease.client.query(statement.config) as Promise<PgAnswer>);
    } catch (error) {
      throw this.#failure(session, lease, error);
    }
  }

  /** BEGIN, COMMIT, SAVEPOINT and the like: the command tag matters, rows do not. */
  async #control(session: Session, lease: Lease, statement: string): Promise<pg.QueryResult> {
    try {
      return await lease.run(() => lease.client.query(statement));
    } catch (error) {
      throw this.#failure(session, lease, error);
    }
  }

  async #savepoint<T>(parent: TransactionFrame, fn: (tx: PostgresTransaction) => Promise<T>): Promise<T> {
    const previous = parent.savepoints;
    let done!: () => void;
    parent.savepoints = new Promise((resolve) => (done = resolve));
    await previous;
    try {
      const { session, lease } = parent;
      // The frame ended, or close() cut its connection off.
      if (!parent.active || lease.released) throw transactionFinishedError(this.id);
      const name = `taskrt_savepoint_${parent.depth + 1}`;
      await this.#control(session, lease, `SAVEPOINT ${name}`);
      const frame = this.#newFrame(session, lease, parent);
      const undo = [`ROLLBACK TO SAVEPOINT ${name}`, `RELEASE SAVEPOINT ${name}`];
      let result: T;
      try {
        result = await this.#frames.run(frame, () => fn(frame.executor));
      } catch (error) {
        frame.active = false;
        await this.#rollback(session, lease, undo, error);
        throw error;
      }
      frame.active = false;
      await this.#finish(session, lease, `RELEASE SAVEPOINT ${name}`, undo);
      return result;
    } finally {
      done();
    }
  }

  #newFrame(session: Session, lease: Lease, parent: TransactionFrame | undefined): TransactionFrame {
    const frame: TransactionFrame = {
      active: true,
      parent,
      depth: parent ? parent.depth + 1 : 0,
      session,
      lease,
      executor: undefined as unknown as PostgresTransaction,
      savepoints: Promise.resolve(),
    };
    const send = async (sql: string, params: readonly unknown[] | undefined): Promise<{ statement: PreparedStatement; answer: PgAnswer }> => {
      if (!frame.active) throw transactionFinishedError(this.id);
      const statement = this.#statements.prepare(sql, params);
      try {
        const answer = await lease.run(() => {
          // A COMMIT or ROLLBACK sent by hand ended the transaction: what follows must not run in autocommit.
          if (lease.transactionStatus === "I") throw transactionEndedInside(this.id);
          return lease.client.query(statement.config) as Promise<PgAnswer>;
        });
        return { statement, answer };
      } catch (error) {
        throw this.#failure(session, lease, error);
      }
    };
    frame.executor = {
      dialect: "postgres",
      query: (sql, params) => send(sql, params).then(({ answer }) => rowsOf(answer)),
      execute: (sql, params) => send(sql, params).then(({ statement, answer }) => execResultOf(statement, answer)),
      transaction: (fn) => this.#savepoint(frame, fn),
    };
    return frame;
  }

  /** The innermost transaction of the current async context that is still open. */
  #activeFrame(): TransactionFrame | undefined {
    let frame = this.#frames.get();
    while (frame && !frame.active) frame = frame.parent;
    return frame;
  }

  /**
   * COMMIT or RELEASE. PostgreSQL answers COMMIT of an aborted transaction with a rollback, not an
   * error, so an aborted transaction is rolled back and reported here, never passed off as committed.
   */
  async #finish(session: Session, lease: Lease, statement: string, undo: readonly string[]): Promise<void> {
    const status = lease.transactionStatus;
    if (status === "I") throw transactionEndedInside(this.id);
    if (status === "E") {
      const aborted = transactionAborted(this.id);
      await this.#rollback(session, lease, undo, aborted);
      throw aborted;
    }
    try {
      const result = await this.#control(session, lease, statement);
      if (result.command === "ROLLBACK") throw transactionAborted(this.id);
    } catch (error) {
      await this.#rollback(session, lease, undo, error);
      throw error;
    }
  }

  /** Undo after `reason`; the reason is what the caller sees, so a failing rollback is logged and its connection dropped. */
  async #rollback(session: Session, lease: Lease, statements: readonly string[], reason: unknown): Promise<void> {
    for (const statement of statements) {
      if (lease.broken || lease.released || lease.transactionStatus === "I") return;
      try {
        await this.#control(session, lease, statement);
      } catch (error) {
        lease.broken = true;
        this.#options.logger?.error("rollback failed; the connection is closed, so PostgreSQL rolls back", {
          statement,
          error: errorMessage(error),
          reason: errorMessage(reason),
        });
        return;
      }
    }
  }

  /** A failed statement as a TaskrtError; a failed connection is marked so it is never reused. */
  #failure(session: Session, lease: Lease, error: unknown): TaskrtError {
    const sorted = classifyFailure(this.id, error, lease.broken);
    if (!sorted.gone) return sorted.error!;
    lease.broken = true;
    return unavailable(session.server, "lost the connection to", lease.failure ?? error);
  }
}

/** What every connection of the driver, pooled or dedicated, connects with. */
function clientConfig(connection: PostgresConnection): pg.ClientConfig {
  return {
    host: connection.host,
    port: connection.port,
    database: connection.database,
    user: connection.user,
    password: connection.password,
    ssl: connection.ssl,
    application_name: connection.applicationName,
    statement_timeout: connection.statementTimeoutMs,
    lock_timeout: connection.lockTimeoutMs,
    idle_in_transaction_session_timeout: connection.idleInTransactionTimeoutMs,
    options: connection.searchPath === undefined ? undefined : `-c search_path=${escapeOption(connection.searchPath)}`,
    connectionTimeoutMillis: connection.connectTimeoutMs,
    // Notices a server that vanished without closing the socket (a host crash, a cut cable).
    keepAlive: true,
    types: RESULT_TYPES,
  };
}

/** libpq's `options` splits on spaces; a backslash keeps one literal. */
function escapeOption(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/ /g, "\\ ");
}
