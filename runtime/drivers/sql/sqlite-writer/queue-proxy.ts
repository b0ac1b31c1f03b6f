/**
 * @module drivers/sql/sqlite-writer/queue-proxy — `queue.driver.sqlite` on a database whose writer
 * runs on a thread: the real SqliteQueueDriver lives in the writer (queue-host.ts), created with this
 * entry's settings; this proxy is the QueueDriver the main thread's queues use. Every method is a
 * request answered there; inside a transaction of the database (or as a step of its batch) a publish
 * or settlement runs inside that transaction on the writer, as on the main-thread driver. A consumer
 * runs in the writer and sends each delivery here, where ack, retry, bury, release and progress
 * travel back as calls.
 */
import { TaskrtError } from "../../../errors.ts";
import type { Component } from "../../../contracts/component.ts";
import type {
  BrowseQuery,
  BrowsedMessage,
  ConsumeOptions,
  DeadLetterPage,
  Delivery,
  Headers,
  MessagePage,
  PublishOptions,
  PublishResult,
  QueueDriver,
  QueueMessage,
  QueueStats,
  RetentionPolicy,
  Subscription,
  UniquePublishOptions,
} from "../../queue/driver.ts";
import { SQLITE_QUEUE_ERROR } from "../../queue/sqlite-storage.ts";
import type { BatchQueueStep } from "../driver.ts";
import type { QueueDriverSettings } from "./protocol.ts";
import type { ThreadedSqliteDatabase } from "./threaded-database.ts";

export class ThreadedSqliteQueueDriver implements QueueDriver, Component {
  readonly id: string;
  readonly rateLimits = true;
  readonly #database: ThreadedSqliteDatabase;
  readonly #settings: QueueDriverSettings;
  readonly #subscriptions = new Set<number>();
  /** Retention asked for (queue entries ask when built, before start): sent to the writer's driver at each start. */
  readonly #retained = new Map<string, RetentionPolicy>();
  #state: "created" | "started" | "stopped" = "created";
  #durable = true;

  constructor(database: ThreadedSqliteDatabase, settings: QueueDriverSettings) {
    this.id = settings.driverId;
    this.#database = database;
    this.#settings = settings;
  }

  get durable(): boolean {
    return this.#durable;
  }

  describe(): string {
    return `${this.#durable ? "durable" : "not durable"}, in ${this.#database.id} (on its writer thread)`;
  }

  storesIn(databaseId: string): boolean {
    return databaseId === this.#database.id;
  }

  async start(): Promise<void> {
    if (this.#state === "started") return;
    const opened = (await this.#database.writerRequest({ t: "queue-open", id: 0, settings: this.#settings })) as { durable: boolean };
    this.#durable = opened.durable;
    this.#state = "started";
    for (const [queueName, policy] of this.#retained) this.#sendRetain(queueName, policy);
  }

  async stop(): Promise<void> {
    if (this.#state !== "started") return;
    this.#state = "stopped";
    try {
      await this.#database.writerRequest({ t: "queue-close", id: 0, driverId: this.id });
    } finally {
      for (const subscription of this.#subscriptions) this.#database.unsubscribe(subscription);
      this.#subscriptions.clear();
    }
  }

  /** The publish as a step of the database's batch: it runs inside the batch's transaction on the writer. */
  batchStep(queueName: string, body: unknown, headers: Headers, options: PublishOptions | UniquePublishOptions | undefined, unique: boolean): BatchQueueStep {
    return { queue: { driverId: this.id, method: unique ? "publishUnique" : "publish", args: [queueName, body, headers, options] } };
  }

  /** As the driver's own: a queue needs no declaring (its messages carry its name), so no round trip either. */
  async declare(_queueName: string): Promise<void> {}

  publish(queueName: string, body: unknown, headers: Headers, options?: PublishOptions): Promise<string> {
    return this.#call("publish", `publish to queue "${queueName}"`, queueName, body, headers, options) as Promise<string>;
  }

  publishUnique(queueName: string, body: unknown, headers: Headers, options: UniquePublishOptions): Promise<PublishResult> {
    return this.#call("publishUnique", `publish to queue "${queueName}"`, queueName, body, headers, options) as Promise<PublishResult>;
  }

  stats(queueName: string): Promise<QueueStats> {
    return this.#call("stats", `read the stats of queue "${queueName}"`, queueName) as Promise<QueueStats>;
  }

  async consume(queueName: string, options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Subscription> {
    this.#requireStarted(`consume from queue "${queueName}"`);
    const subscription = this.#database.subscribe((number, message) => onDelivery(this.#delivery(number, message as QueueMessage)));
    this.#subscriptions.add(subscription);
    try {
      await this.#database.writerRequest({ t: "consume", id: 0, driverId: this.id, subscription, queueName, options });
    } catch (error) {
      this.#subscriptions.delete(subscription);
      this.#database.unsubscribe(subscription);
      throw error;
    }
    return {
      cancel: async () => {
        if (!this.#subscriptions.delete(subscription)) return;
        try {
          await this.#database.writerRequest({ t: "cancel", id: 0, subscription });
        } finally {
          this.#database.unsubscribe(subscription);
        }
      },
    };
  }

  pause(queueName: string): Promise<void> {
    return this.#call("pause", `pause queue "${queueName}"`, queueName) as Promise<void>;
  }

  resume(queueName: string): Promise<void> {
    return this.#call("resume", `resume queue "${queueName}"`, queueName) as Promise<void>;
  }

  isPaused(queueName: string): Promise<boolean> {
    return this.#call("isPaused", `read whether queue "${queueName}" is paused`, queueName) as Promise<boolean>;
  }

  browse(queueName: string, query: BrowseQuery): Promise<MessagePage<BrowsedMessage>> {
    return this.#call("browse", `browse queue "${queueName}"`, queueName, query) as Promise<MessagePage<BrowsedMessage>>;
  }

  promote(queueName: string, id: string): Promise<boolean> {
    return this.#call("promote", `promote a message of queue "${queueName}"`, queueName, id) as Promise<boolean>;
  }

  remove(queueName: string, id: string): Promise<boolean> {
    return this.#call("remove", `remove a message of queue "${queueName}"`, queueName, id) as Promise<boolean>;
  }

  purge(queueName: string): Promise<number> {
    return this.#call("purge", `purge queue "${queueName}"`, queueName) as Promise<number>;
  }

  listInFlight(queueName: string, page: { limit: number; offset: number }): Promise<MessagePage<BrowsedMessage>> {
    return this.#call("listInFlight", `list the messages in flight of queue "${queueName}"`, queueName, page) as Promise<MessagePage<BrowsedMessage>>;
  }

  listDead(queueName: string, page: { limit: number; offset: number }): Promise<DeadLetterPage> {
    return this.#call("listDead", `list the dead messages of queue "${queueName}"`, queueName, page) as Promise<DeadLetterPage>;
  }

  retryDead(queueName: string, id: string): Promise<boolean> {
    return this.#call("retryDead", `retry a dead message of queue "${queueName}"`, queueName, id) as Promise<boolean>;
  }

  discardDead(queueName: string, id: string): Promise<boolean> {
    return this.#call("discardDead", `discard a dead message of queue "${queueName}"`, queueName, id) as Promise<boolean>;
  }

  pruneDead(queueName: string, policy: RetentionPolicy): Promise<number> {
    return this.#call("pruneDead", `prune the dead messages of queue "${queueName}"`, queueName, policy) as Promise<number>;
  }

  /** The writer's driver prunes on its own schedule, from its start on (as the driver does when asked before its start). */
  retain(queueName: string, policy: RetentionPolicy): void {
    this.#retained.set(queueName, policy);
    if (this.#state === "started") this.#sendRetain(queueName, policy);
  }

  #sendRetain(queueName: string, policy: RetentionPolicy): void {
    // Only a dead writer refuses it, and that failure reaches every caller of the database already.
    void this.#database.queueCall({ driverId: this.id, method: "retain", args: [queueName, policy] }).catch(() => undefined);
  }

  #delivery(number: number, message: QueueMessage): Delivery {
    const call = (method: string, ...args: unknown[]): Promise<void> => this.#database.queueCall({ delivery: number, method, args }) as Promise<void>;
    return {
      message,
      ack: () => call("ack"),
      retry: (delayMs, error) => call("retry", delayMs, error),
      bury: (error) => call("bury", error),
      release: () => call("release"),
      progress: (value) => call("progress", value),
    };
  }

  #call(method: string, action: string, ...args: unknown[]): Promise<unknown> {
    try {
      this.#requireStarted(action);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#database.queueCall({ driverId: this.id, method, args });
  }

  /** Refused here as the driver itself refuses: a proxy not started has no driver in the writer yet. */
  #requireStarted(action: string): void {
    if (this.#state === "started") return;
    const why = this.#state === "created" ? "it is not started" : "it is stopped";
    throw new TaskrtError(SQLITE_QUEUE_ERROR.STOPPED, `queue driver ${this.id} cannot ${action}: ${why}`, {
      entryId: this.id,
      hint:
        this.#state === "created"
          ? `start ${this.id} first: give it lifecycle.auto_start: true, or list it in lifecycle.requires of the entry that uses it`
          : "settle deliveries before the driver stops; a stopped driver hands unsettled messages back to their queues",
    });
  }
}
