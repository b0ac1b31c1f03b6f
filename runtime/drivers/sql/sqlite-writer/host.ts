/**
 * @module drivers/sql/sqlite-writer/host — what the writer thread does with the messages it gets:
 * it hosts the ordinary `SqliteDatabase` (its one write connection and its group commit, unchanged)
 * and answers each request once the driver answered it, so an answer to a write arrives after the
 * COMMIT that covered it returned.
 *
 * Requests run concurrently, as calls on the main thread would: lone writes and batches join the
 * group-commit batch, interactive transactions wait their turn on its lock. An interactive
 * transaction runs inside `db.transaction(fn)`, where `fn` takes the transaction's messages one at
 * a time from its channel until `end` (commit) or `fail` (roll back); `nest` opens a savepoint the
 * same way. So whatever runs for it is inside that transaction's async context.
 */
import type { Logger, LogFields } from "../../../logger.ts";
import type { ExecResult } from "../driver.ts";
import { SqliteDatabase, type SqliteTransaction } from "../sqlite.ts";
import { errorToWire, type AnswerValue, type FromWriter, type ToWriter, type WriterSettings } from "./protocol.ts";
import { QueueHost } from "./queue-host.ts";

type TransactionMessage = Extract<ToWriter, { tx: number }>;
type BatchMessage = Extract<ToWriter, { t: "batch" }>;

/** Thrown inside a transaction's function to roll it back when the main thread's function failed. */
class RolledBackByCaller extends Error {}

/** The messages of one transaction, in order, for the function running it to take one at a time. */
class TransactionChannel {
  readonly #queued: TransactionMessage[] = [];
  #waiter: ((message: TransactionMessage) => void) | undefined;

  push(message: TransactionMessage): void {
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter(message);
    } else this.#queued.push(message);
  }

  next(): Promise<TransactionMessage> {
    const queued = this.#queued.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => (this.#waiter = resolve));
  }
}

export class WriterHost {
  readonly #database: SqliteDatabase;
  readonly #send: (message: FromWriter) => void;
  readonly #transactions = new Map<number, TransactionChannel>();
  readonly #queues: QueueHost;

  constructor(settings: WriterSettings, send: (message: FromWriter) => void) {
    this.#send = send;
    this.#database = new SqliteDatabase({ ...settings, logger: forwardingLogger(send, undefined) });
    this.#queues = new QueueHost(this.#database, send, (entry) => forwardingLogger(send, entry));
  }

  /** The hosted database, for a queue driver created beside it. */
  get database(): SqliteDatabase {
    return this.#database;
  }

  /**
   * The messages of one turn of the main thread's event loop. Their batches share one transaction
   * of the group commit, each in a savepoint of its own (a failing one rolls back alone): one lock
   * turn and one savepoint each instead of a transaction each.
   */
  receiveAll(messages: readonly ToWriter[]): void {
    let batches: BatchMessage[] | undefined;
    for (const message of messages) {
      if (message.t === "batch") {
        (batches ??= []).push(message);
        continue;
      }
      // Work sent before a close runs before it; other callers' messages need no order among them.
      if (batches && (message.t === "close" || message.t === "queue-close")) {
        this.#runBatches(batches);
        batches = undefined;
      }
      this.receive(message);
    }
    if (batches) this.#runBatches(batches);
  }

  receive(message: ToWriter): void {
    switch (message.t) {
      case "open":
        return this.#answer(message.id, async () => {
          await this.#database.open();
          return { journalMode: this.#database.journalMode, path: this.#database.path };
        });
      case "close":
        return this.#answer(message.id, async () => {
          await this.#database.close();
          return null;
        });
      case "run":
        return this.#answer(message.id, () =>
          message.kind === "query" ? this.#database.query(message.sql, message.params) : this.#database.execute(message.sql, message.params),
        );
      case "batch":
        return this.#runBatches([message]);
      case "begin":
        return this.#begin(message.tx);
      case "queue-open":
        return this.#answer(message.id, () => this.#queues.open(message.settings));
      case "queue-close":
        return this.#answer(message.id, () => this.#queues.close(message.driverId));
      case "queue-call":
        return this.#answer(message.id, () => this.#queues.call(message.call));
      case "consume":
        return this.#answer(message.id, () => this.#queues.consume(message.driverId, message.subscription, message.queueName, message.options));
      case "cancel":
        return this.#answer(message.id, () => this.#queues.cancel(message.subscription));
      default:
        return this.#transactions.get(message.tx)?.push(message);
    }
  }

  #runBatches(batches: BatchMessage[]): void {
    const committed: { id: number; results: ExecResult[] }[] = [];
    this.#database
      .transaction(async (tx) => {
        for (const batch of batches) {
          try {
            const results = batches.length === 1 ? await this.#runSteps(tx, batch) : await tx.transaction((inner) => this.#runSteps(inner, batch));
            committed.push({ id: batch.id, results });
          } catch (error) {
            if (batches.length === 1) throw error;
            this.#send({ t: "error", id: batch.id, error: errorToWire(error) });
          }
        }
      })
      .then(
        () => {
          for (const { id, results } of committed) this.#send({ t: "done", id, value: results });
        },
        (error: unknown) => {
          // BEGIN or COMMIT failed (or the one batch did): nothing of these batches is kept.
          const settled = new Set(batches.length === 1 ? [] : batches.filter((batch) => !committed.some((done) => done.id === batch.id)).map((batch) => batch.id));
          for (const batch of batches) if (!settled.has(batch.id)) this.#send({ t: "error", id: batch.id, error: errorToWire(error) });
        },
      );
  }

  async #runSteps(tx: SqliteTransaction, batch: BatchMessage): Promise<ExecResult[]> {
    const results: ExecResult[] = [];
    for (const step of batch.steps) {
      if ("queue" in step) await this.#queues.call(step.queue);
      else results.push(await tx.execute(step.sql, step.params));
    }
    return results;
  }

  #begin(tx: number): void {
    const channel = new TransactionChannel();
    this.#transactions.set(tx, channel);
    let ending: TransactionMessage | undefined;
    this.#database
      .transaction(async (executor) => {
        ending = await this.#runMessages(channel, executor);
        if (ending.t === "fail") throw new RolledBackByCaller();
      })
      .then(
        () => this.#send({ t: "done", id: idOf(ending), value: null }),
        (error: unknown) => {
          // Rolled back as asked: the caller already has its own error. Otherwise the COMMIT failed (or BEGIN did).
          if (error instanceof RolledBackByCaller) this.#send({ t: "done", id: idOf(ending), value: null });
          else if (ending) this.#send({ t: "error", id: idOf(ending), error: errorToWire(error) });
          else return this.#failBeforeStart(channel, error);
        },
      )
      .finally(() => this.#transactions.delete(tx));
  }

  /** BEGIN failed (the database closed): answer every statement of the transaction with that error, up to its end. */
  async #failBeforeStart(channel: TransactionChannel, error: unknown): Promise<void> {
    for (;;) {
      const message = await channel.next();
      if ("id" in message) this.#send({ t: "error", id: message.id, error: errorToWire(error) });
      if (message.t === "end" || message.t === "fail") return;
    }
  }

  /** Runs the transaction's statements until its `end` or `fail` (or, in a savepoint, its `unnest`), which it returns. */
  async #runMessages(channel: TransactionChannel, executor: SqliteTransaction): Promise<TransactionMessage> {
    for (;;) {
      const message = await channel.next();
      switch (message.t) {
        case "op":
          await this.#settle(message.id, () => (message.kind === "query" ? executor.query(message.sql, message.params) : executor.execute(message.sql, message.params)));
          break;
        case "queue-op":
          await this.#settle(message.id, () => this.#queues.call(message.call));
          break;
        case "nest":
          await this.#savepoint(channel, executor);
          break;
        default:
          return message;
      }
    }
  }

  async #savepoint(channel: TransactionChannel, executor: SqliteTransaction): Promise<void> {
    let unnest: TransactionMessage | undefined;
    try {
      await executor.transaction(async (inner) => {
        unnest = await this.#runMessages(channel, inner);
        if (unnest.t === "unnest" && !unnest.ok) throw new RolledBackByCaller();
      });
      this.#send({ t: "done", id: idOf(unnest), value: null });
    } catch (error) {
      if (!unnest) throw error;
      if (error instanceof RolledBackByCaller) this.#send({ t: "done", id: idOf(unnest), value: null });
      else this.#send({ t: "error", id: idOf(unnest), error: errorToWire(error) });
    }
    // An `end` or `fail` arriving where `unnest` was due (the caller gave up inside the savepoint) ends the transaction too.
    if (unnest && unnest.t !== "unnest") channel.push(unnest);
  }

  #answer(id: number, run: () => Promise<AnswerValue>): void {
    void this.#settle(id, run);
  }

  async #settle(id: number, run: () => Promise<AnswerValue>): Promise<void> {
    try {
      this.#send({ t: "done", id, value: await run() });
    } catch (error) {
      this.#send({ t: "error", id, error: errorToWire(error) });
    }
  }
}

function idOf(message: TransactionMessage | undefined): number {
  return message && "id" in message ? message.id : -1;
}

/** The hosted driver's log lines, sent to the main thread's logger. */
function forwardingLogger(send: (message: FromWriter) => void, entry: string | undefined): Logger {
  const line =
    (level: "debug" | "info" | "warn" | "error") =>
    (message: string, fields?: LogFields): void =>
      send({ t: "log", level, message, fields: fields as Record<string, unknown> | undefined, entry });
  const logger: Logger = { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error"), forEntry: () => logger };
  return logger;
}
