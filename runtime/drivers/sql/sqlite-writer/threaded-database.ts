/**
 * @module drivers/sql/sqlite-writer/threaded-database — a SQLite database whose write connection
 * lives on a writer thread (worker.ts hosts the ordinary SqliteDatabase there, with its group
 * commit), so statements, COMMIT and its fsync leave the main thread's event loop.
 *
 * - A read from outside any transaction runs here, on a read-only connection (WAL files), when any
 *   connection answers it alike (`portableRead`); it sees the last committed state, never an open
 *   batch. Anything else goes to the writer.
 * - A write from outside any transaction is one message; it resolves once the COMMIT covering it
 *   returned on the writer (under synchronous FULL, after its fsync).
 * - `batch(statements)` is one message: the statements commit together, or none does.
 * - `transaction(fn)` is interactive: a begin message, a message per statement (each awaited), then
 *   end or fail. The writer holds its connection's lock across those round trips, so this is the slow
 *   path; hot paths send a batch. Statements sent through this database from inside `fn`'s async
 *   context belong to the transaction, as on the main-thread driver; nested calls are savepoints.
 *
 * Messages go out once per turn of the event loop, as one array. If the writer thread exits or
 * crashes, every pending caller is rejected with E_DB_UNAVAILABLE naming the entry, the error is
 * logged, and the database is closed; `open()` starts a new writer.
 */
import { AsyncSlot } from "../../../async-slots.ts";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { TaskrtError, errorMessage } from "../../../errors.ts";
import type { Logger } from "../../../logger.ts";
import { notOpenError, transactionFinishedError, type BatchStep, type ExecResult, type SqlDatabase, type SqlExecutor, type SqlRow } from "../driver.ts";
import { WaitQueue, TURN } from "../sqlite-batch.ts";
import { bindParameters } from "../sqlite-parameters.ts";
import { SqliteReader } from "../sqlite-reader.ts";
import { SQLITE_BATCH_DEFAULTS, SQLITE_STATE, type SqliteOptions, type SqliteState, type SqliteTransaction } from "../sqlite.ts";
import { errorFromWire, type AnswerValue, type FromWriter, type OpenedAnswer, type QueueCall, type StatementKind, type ToWriter, type WriterSettings } from "./protocol.ts";

/** Requests a queue-driver proxy sends the writer as they are (ids filled in here). */
export type WriterQueueRequest = Extract<ToWriter, { t: "queue-open" | "queue-close" | "consume" | "cancel" }>;

const WORKER_ENTRY = new URL("./worker-entry.js", import.meta.url);

interface Pending {
  resolve(value: AnswerValue): void;
  reject(error: Error): void;
}

interface Frame {
  tx: number;
  active: boolean;
  parent: Frame | undefined;
  executor: SqliteTransaction;
  /** Serialises savepoints opened inside this frame: the writer runs one at a time, in order. */
  savepoints: WaitQueue;
}

export class ThreadedSqliteDatabase implements SqlDatabase {
  readonly id: string;
  readonly dialect = "sqlite" as const;
  readonly file: string;
  readonly path: string;
  readonly #options: SqliteOptions;
  readonly #logger: Logger | undefined;
  readonly #frames = new AsyncSlot<Frame>();
  readonly #pending = new Map<number, Pending>();
  readonly #subscriptions = new Map<number, (delivery: number, message: unknown) => void>();
  #worker: Worker | undefined;
  #reader: SqliteReader | undefined;
  #state: SqliteState = SQLITE_STATE.CLOSED;
  #journalMode = "";
  #nextId = 1;
  #outbox: ToWriter[] = [];
  #closing: Promise<void> | undefined;
  /** Why the last writer thread ended without being closed, for `describe()`. */
  #lostWriter: string | undefined;

  constructor(options: SqliteOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.id = options.id;
    this.file = options.file;
    this.path = options.file === ":memory:" ? ":memory:" : path.resolve(options.file);
  }

  get state(): SqliteState {
    return this.#state;
  }

  get journalMode(): string {
    return this.#journalMode;
  }

  get hasReadConnection(): boolean {
    return this.#reader !== undefined;
  }

  /** Why the writer thread last ended on its own (crashed, was killed), or undefined. */
  get writerLost(): string | undefined {
    return this.#lostWriter;
  }

  async open(): Promise<void> {
    if (this.#closing) await this.#closing;
    if (this.#state === SQLITE_STATE.OPEN) return;
    const settings: WriterSettings = {
      id: this.id,
      file: this.#options.file,
      busyTimeoutMs: this.#options.busyTimeoutMs,
      synchronous: this.#options.synchronous,
      closeTimeoutMs: this.#options.closeTimeoutMs,
      batchMaxTransactions: this.#options.batchMaxTransactions,
      batchMaxMs: this.#options.batchMaxMs,
      // The writer answers only what this thread cannot: its own read connection would not be used.
      readConnection: false,
    };
    const worker = new Worker(WORKER_ENTRY, { workerData: settings, execArgv: workerExecArgv(process.execArgv) });
    this.#worker = worker;
    this.#lostWriter = undefined;
    worker.on("message", (batch: FromWriter[]) => this.#receive(batch));
    worker.on("error", (error) => this.#writerEnded(worker, `its writer thread failed: ${errorMessage(error)}`));
    worker.on("exit", (code) => this.#writerEnded(worker, `its writer thread exited (code ${code})`));
    // A state other than CLOSED lets the open request through; statements wait for it anyway.
    this.#state = SQLITE_STATE.OPEN;
    let opened: OpenedAnswer;
    try {
      opened = (await this.#request({ t: "open", id: 0 })) as OpenedAnswer;
    } catch (error) {
      this.#state = SQLITE_STATE.CLOSED;
      this.#worker = undefined;
      await worker.terminate();
      throw error;
    }
    this.#journalMode = opened.journalMode;
    const wantsReader = this.#options.readConnection ?? SQLITE_BATCH_DEFAULTS.readConnection;
    if (wantsReader && opened.journalMode === "wal") {
      try {
        this.#reader = new SqliteReader(this.id, opened.path, this.#options.busyTimeoutMs);
      } catch (error) {
        this.#logger?.warn("read-only connection did not open; every read goes to the writer thread", { error: errorMessage(error) });
      }
    }
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (this.#state === SQLITE_STATE.CLOSED) return Promise.resolve();
    this.#state = SQLITE_STATE.CLOSING;
    this.#closing = this.#closeWriter().finally(() => {
      this.#closing = undefined;
    });
    return this.#closing;
  }

  query(sql: string, params?: readonly unknown[]): Promise<SqlRow[]> {
    const frame = this.#activeFrame();
    if (frame) return frame.executor.query(sql, params);
    if (this.#state !== SQLITE_STATE.OPEN) return Promise.reject(this.#notOpen());
    if (this.#reader) {
      try {
        const rows = this.#reader.tryQuery(sql, bindParameters(this.id, params));
        if (rows !== undefined) return Promise.resolve(rows);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#statement("query", sql, params) as Promise<SqlRow[]>;
  }

  execute(sql: string, params?: readonly unknown[]): Promise<ExecResult> {
    const frame = this.#activeFrame();
    if (frame) return frame.executor.execute(sql, params);
    if (this.#state !== SQLITE_STATE.OPEN) return Promise.reject(this.#notOpen());
    return this.#statement("execute", sql, params) as Promise<ExecResult>;
  }

  /**
   * Runs `steps` (statements, and calls on queue drivers living in the writer) as one transaction
   * on the writer: resolves to the statements' results once it committed; rejects with the first
   * step's error (and nothing of the batch is kept) otherwise. Inside a transaction, the steps run
   * in it, one after another.
   */
  async batch(steps: readonly BatchStep[]): Promise<ExecResult[]> {
    const frame = this.#activeFrame();
    if (frame) {
      const results: ExecResult[] = [];
      for (const step of steps) {
        if ("queue" in step) await this.queueCall(step.queue);
        else results.push(await frame.executor.execute(step.sql, step.params));
      }
      return results;
    }
    if (this.#state !== SQLITE_STATE.OPEN) throw this.#notOpen();
    const message = steps.map((step) => ("queue" in step ? { queue: step.queue } : { sql: step.sql, params: step.params === undefined ? undefined : [...step.params] }));
    return (await this.#request({ t: "batch", id: 0, steps: message })) as ExecResult[];
  }

  /**
   * A call on a queue driver (or one of its deliveries) living in the writer: inside a transaction
   * of this database it runs in that transaction there (a publish or settlement joins it).
   */
  queueCall(call: QueueCall): Promise<unknown> {
    const frame = this.#activeFrame();
    if (frame) return this.#request({ t: "queue-op", tx: frame.tx, id: 0, call });
    return this.#request({ t: "queue-call", id: 0, call });
  }

  /** Opens or closes a queue driver in the writer, starts or cancels a consumer. */
  writerRequest(message: WriterQueueRequest): Promise<unknown> {
    return this.#request(message);
  }

  /** Numbers a new consumer; its deliveries go to `listener` until `unsubscribe`. */
  subscribe(listener: (delivery: number, message: unknown) => void): number {
    const subscription = this.#nextId++;
    this.#subscriptions.set(subscription, listener);
    return subscription;
  }

  unsubscribe(subscription: number): void {
    this.#subscriptions.delete(subscription);
  }

  async transaction<T>(fn: (tx: SqliteTransaction) => Promise<T>): Promise<T> {
    const outer = this.#activeFrame();
    if (outer) return this.#savepoint(outer, fn);
    if (this.#state !== SQLITE_STATE.OPEN) throw this.#notOpen();
    const tx = this.#nextId++;
    this.#post({ t: "begin", tx });
    const frame = this.#newFrame(tx, undefined);
    let result: T;
    try {
      result = await this.#frames.run(frame, () => fn(frame.executor));
    } catch (error) {
      frame.active = false;
      // Rolled back on the writer before the caller hears of it; a dead writer rolled back anyway.
      await this.#request({ t: "fail", tx, id: 0 }).catch(() => undefined);
      throw error;
    }
    frame.active = false;
    await this.#request({ t: "end", tx, id: 0 });
    return result;
  }

  currentTransaction(): SqlExecutor | undefined {
    return this.#activeFrame()?.executor;
  }

  /** Runs `fn` as if no transaction were open in this async context (see SqliteDatabase.runOutsideTransaction). */
  runOutsideTransaction<T>(fn: () => T): T {
    return this.#frames.exit(fn);
  }

  /** Ends the writer thread at once, as a crash would: for tests of what callers then see. */
  async terminateWriter(): Promise<void> {
    await this.#worker?.terminate();
  }

  #statement(kind: StatementKind, sql: string, params: readonly unknown[] | undefined): Promise<AnswerValue> {
    return this.#request({ t: "run", id: 0, kind, sql, params: params === undefined ? undefined : [...params] });
  }

  async #savepoint<T>(parent: Frame, fn: (tx: SqliteTransaction) => Promise<T>): Promise<T> {
    await parent.savepoints.acquire(TURN.TRANSACTION);
    try {
      if (!parent.active) throw transactionFinishedError(this.id);
      this.#post({ t: "nest", tx: parent.tx });
      const frame = this.#newFrame(parent.tx, parent);
      let result: T;
      try {
        result = await this.#frames.run(frame, () => fn(frame.executor));
      } catch (error) {
        frame.active = false;
        await this.#request({ t: "unnest", tx: parent.tx, id: 0, ok: false }).catch(() => undefined);
        throw error;
      }
      frame.active = false;
      await this.#request({ t: "unnest", tx: parent.tx, id: 0, ok: true });
      return result;
    } finally {
      parent.savepoints.release();
    }
  }

  #newFrame(tx: number, parent: Frame | undefined): Frame {
    const frame: Frame = { tx, active: true, parent, executor: undefined as unknown as SqliteTransaction, savepoints: new WaitQueue() };
    const run = (kind: StatementKind, sql: string, params: readonly unknown[] | undefined): Promise<AnswerValue> => {
      if (!frame.active) return Promise.reject(transactionFinishedError(this.id));
      return this.#request({ t: "op", tx, id: 0, kind, sql, params: params === undefined ? undefined : [...params] });
    };
    frame.executor = {
      dialect: "sqlite",
      query: (sql, params) => run("query", sql, params) as Promise<SqlRow[]>,
      execute: (sql, params) => run("execute", sql, params) as Promise<ExecResult>,
      transaction: (fn) => this.#savepoint(frame, fn),
    };
    return frame;
  }

  #activeFrame(): Frame | undefined {
    let frame = this.#frames.get();
    while (frame && !frame.active) frame = frame.parent;
    return frame;
  }

  /** Sends `message` with a fresh id; resolves or rejects with the writer's answer to it. */
  #request(message: Extract<ToWriter, { id: number }>): Promise<AnswerValue> {
    if (!this.#worker) return Promise.reject(this.#unavailable(this.#lostWriter ?? "it is not open"));
    const id = this.#nextId++;
    return new Promise<AnswerValue>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#post({ ...message, id });
    });
  }

  #post(message: ToWriter): void {
    if (!this.#worker) return;
    if (this.#outbox.length === 0) setImmediate(this.#flush);
    this.#outbox.push(message);
  }

  readonly #flush = (): void => {
    const batch = this.#outbox;
    this.#outbox = [];
    if (batch.length > 0) this.#worker?.postMessage(batch);
  };

  #receive(batch: FromWriter[]): void {
    for (const message of batch) {
      if (message.t === "log") {
        const logger = message.entry ? this.#logger?.forEntry(message.entry) : this.#logger;
        logger?.[message.level](message.message, message.fields);
        continue;
      }
      if (message.t === "delivery") {
        this.#subscriptions.get(message.subscription)?.(message.delivery, message.message);
        continue;
      }
      const pending = this.#pending.get(message.id);
      if (!pending) continue;
      this.#pending.delete(message.id);
      if (message.t === "done") pending.resolve(message.value);
      else pending.reject(errorFromWire(message.error));
    }
  }

  async #closeWriter(): Promise<void> {
    const worker = this.#worker;
    try {
      if (worker) await this.#request({ t: "close", id: 0 });
    } finally {
      this.#reader?.close();
      this.#reader = undefined;
      this.#worker = undefined;
      this.#state = SQLITE_STATE.CLOSED;
      // Answers still owed (none, once the writer closed) can no longer come.
      this.#rejectPending("it was closed");
      await worker?.terminate();
    }
  }

  /** The writer thread ended: unless this was the close, every caller still waiting hears why. */
  #writerEnded(worker: Worker, reason: string): void {
    if (worker !== this.#worker) return;
    this.#worker = undefined;
    this.#lostWriter = reason;
    this.#outbox = [];
    this.#reader?.close();
    this.#reader = undefined;
    this.#state = SQLITE_STATE.CLOSED;
    this.#logger?.error(`database ${this.id}: ${reason}; what it had not committed is lost`, {});
    this.#rejectPending(reason);
  }

  #rejectPending(reason: string): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const caller of pending) caller.reject(this.#unavailable(reason));
  }

  /** Why a call finds the database closed: the writer thread's end, when that is what closed it. */
  #notOpen(): TaskrtError {
    return this.#lostWriter ? this.#unavailable(this.#lostWriter) : notOpenError(this.id);
  }

  #unavailable(reason: string): TaskrtError {
    return new TaskrtError("E_DB_UNAVAILABLE", `database ${this.id} is unavailable: ${reason}`, {
      entryId: this.id,
      hint: this.#lostWriter ? `restart ${this.id} (its supervisor, or taskrt); its committed data is intact` : `start ${this.id} before using it`,
    });
  }
}

/**
 * The process's Node options a worker may take: a process started with `-e`/`-p` code (and its
 * `--input-type`) passes them on in execArgv, and a worker refuses to start with them.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let index = 0; index < execArgv.length; index++) {
    const arg = execArgv[index];
    if (arg === "-e" || arg === "--eval" || arg === "-p" || arg === "--print") {
      index++; // its code
      continue;
    }
    if (arg.startsWith("--input-type") || arg.startsWith("--eval=") || arg.startsWith("--print=")) continue;
    kept.push(arg);
  }
  return kept;
}
