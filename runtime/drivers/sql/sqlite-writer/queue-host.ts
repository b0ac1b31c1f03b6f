/**
 * @module drivers/sql/sqlite-writer/queue-host — the SQLite queue drivers that store in a threaded
 * database, living in its writer thread beside it: the ordinary SqliteQueueDriver, created with its
 * entry's settings on the hosted SqliteDatabase, so its ticks, leases and commits are the ones it
 * makes on the main thread. The main thread calls its methods by name (queue-proxy.ts); a consumer's
 * deliveries are kept here by number and sent to the main thread, whose ack, retry, bury, release
 * and progress come back as calls on them.
 */
import type { Logger } from "../../../logger.ts";
import type { Delivery, Subscription } from "../../queue/driver.ts";
import { TaskrtError } from "../../../errors.ts";
import { SQLITE_QUEUE_ERROR, SqliteQueueDriver } from "../../queue/sqlite.ts";
import type { SqliteDatabase } from "../sqlite.ts";
import type { FromWriter, QueueCall, QueueDriverSettings } from "./protocol.ts";

/** Methods of a driver the main thread may call; anything else is refused. */
const DRIVER_METHODS = new Set([
  "declare",
  "publish",
  "publishUnique",
  "stats",
  "pause",
  "resume",
  "isPaused",
  "browse",
  "promote",
  "remove",
  "purge",
  "listInFlight",
  "listDead",
  "retryDead",
  "discardDead",
  "pruneDead",
  "retain",
]);
const DELIVERY_METHODS = new Set(["ack", "retry", "bury", "release", "progress"]);
/** A delivery settled by one of these is done with: it moves to the recently settled ones. */
const SETTLING = new Set(["ack", "retry", "bury", "release"]);
/** Settled deliveries kept so that a late call on one gets the delivery's own refusal (E_ALREADY_SETTLED). */
const RECENTLY_SETTLED = 10_000;

export class QueueHost {
  readonly #database: SqliteDatabase;
  readonly #send: (message: FromWriter) => void;
  readonly #logger: (entry: string) => Logger;
  readonly #drivers = new Map<string, SqliteQueueDriver>();
  readonly #subscriptions = new Map<number, Subscription>();
  readonly #deliveries = new Map<number, Delivery>();
  readonly #settled = new Map<number, Delivery>();
  #nextDelivery = 1;

  constructor(database: SqliteDatabase, send: (message: FromWriter) => void, logger: (entry: string) => Logger) {
    this.#database = database;
    this.#send = send;
    this.#logger = logger;
  }

  async open(settings: QueueDriverSettings): Promise<{ durable: boolean }> {
    let driver = this.#drivers.get(settings.driverId);
    if (!driver) {
      driver = new SqliteQueueDriver({
        id: settings.driverId,
        storage: { database: this.#database },
        ackTimeoutMs: settings.ackTimeoutMs,
        pollIntervalMs: settings.pollIntervalMs,
        commitWindowMs: settings.commitWindowMs,
        logger: this.#logger(settings.driverId),
      });
      this.#drivers.set(settings.driverId, driver);
    }
    await driver.start();
    return { durable: driver.durable };
  }

  /** Stops the driver; it stays known, so a late call hears the driver's own "it is stopped". */
  async close(driverId: string): Promise<null> {
    await this.#drivers.get(driverId)?.stop();
    return null;
  }

  /** Runs `call` in the caller's async context: inside a transaction's, a publish or settlement joins it. */
  call(call: QueueCall): Promise<unknown> {
    if ("delivery" in call) {
      const delivery = this.#deliveries.get(call.delivery) ?? this.#settled.get(call.delivery);
      if (!delivery || !DELIVERY_METHODS.has(call.method)) {
        return Promise.reject(new TaskrtError(SQLITE_QUEUE_ERROR.ALREADY_SETTLED, `delivery ${call.delivery} was settled long ago; ${call.method} refused`));
      }
      if (SETTLING.has(call.method) && this.#deliveries.delete(call.delivery)) {
        this.#settled.set(call.delivery, delivery);
        if (this.#settled.size > RECENTLY_SETTLED) this.#settled.delete(this.#settled.keys().next().value as number);
      }
      const method = (delivery as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[call.method];
      return Promise.resolve(method.apply(delivery, call.args));
    }
    const driver = this.#driver(call.driverId);
    if (!DRIVER_METHODS.has(call.method)) return Promise.reject(new Error(`queue driver ${call.driverId} offers no ${call.method} to the main thread`));
    const method = (driver as unknown as Record<string, (...args: unknown[]) => unknown>)[call.method];
    return Promise.resolve(method.apply(driver, call.args)).then((value) => value ?? null);
  }

  async consume(driverId: string, subscription: number, queueName: string, options: unknown): Promise<null> {
    const driver = this.#driver(driverId);
    const consumer = await driver.consume(queueName, options as Parameters<SqliteQueueDriver["consume"]>[1], (delivery) => {
      const number = this.#nextDelivery++;
      this.#deliveries.set(number, delivery);
      this.#send({ t: "delivery", subscription, delivery: number, message: delivery.message });
    });
    this.#subscriptions.set(subscription, consumer);
    return null;
  }

  async cancel(subscription: number): Promise<null> {
    const consumer = this.#subscriptions.get(subscription);
    this.#subscriptions.delete(subscription);
    await consumer?.cancel();
    return null;
  }

  #driver(driverId: string): SqliteQueueDriver {
    const driver = this.#drivers.get(driverId);
    if (!driver) {
      throw new TaskrtError(SQLITE_QUEUE_ERROR.STOPPED, `queue driver ${driverId} is not running in the writer thread of ${this.#database.id}`, {
        entryId: driverId,
        hint: `the writer thread was restarted; restart ${driverId} too (or restart taskrt)`,
      });
    }
    return driver;
  }
}
