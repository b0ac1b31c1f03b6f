/**
 * @module drivers/queue/postgres — the durable queue driver on PostgreSQL: a table in a
 * `db.sql.postgres` database, shared by any number of processes, with the SQLite driver's contract.
 *
 * As on SQLite, every write the driver makes on its own goes through one "tick": a transaction on
 * a pooled connection that inserts the publishes, applies the settlements, extends held leases and
 * leases the next messages for consumers with free slots (`FOR UPDATE SKIP LOCKED`, so processes
 * and ticks claiming at once pass over each other's rows instead of waiting). What is asked for
 * while ticks run shares the next one, so acks and publishes are group-committed. Up to
 * TICKS_IN_FLIGHT ticks run at once, so one tick's statements overlap another's COMMIT (its WAL
 * flush); their outcomes are handed out in the order the ticks started, so deliveries keep
 * publish order, and a consumer is never asked for more than its free slots less what ticks
 * still running are fetching for it.
 * Consumers are the SQLite driver's (prefetch window, wake-ups, lease extension), on this host.
 *
 * Wake-ups: a publish (and a dead letter's retry) NOTIFYs the table's channel in its own
 * transaction, so PostgreSQL delivers it at COMMIT to every process LISTENing — this one included.
 * Idle consumers of that queue fetch at once; `poll_interval` is the fallback (missed notifications
 * while the listening connection reconnects, messages whose delay ran out, expired leases).
 *
 * In the caller's transaction: a publish or settlement made while the caller's async context has a
 * transaction open on the database goes into that transaction (its NOTIFY too): a task row and its
 * message commit together or not at all, and consumers wake at that COMMIT.
 *
 * Leases: each lease names its owner, `<key>/<driver>:<consumer>`, where `key` is the session
 * advisory lock the process's listening connection holds. Leases whose key nobody holds any more
 * (the process died) are taken back when a consumer starts, and once per poll interval after
 * that, instead of waiting out `ack_timeout`; leases of a process that hangs expire.
 *
 * Queue features, as on SQLite: a paused queue's claims find nothing (the state table is in every
 * claim's WHERE) and a resume NOTIFYs; a unique publish takes its key in the publish's transaction;
 * rate windows are locked and counted in the claim's transaction; progress, browsing, purge and
 * retention are single statements of the driver's own (progress joins the handler's transaction).
 *
 * Driver states: CREATED → (start) STARTED → (stop) STOPPED → (start) STARTED. Publishing or
 * settling outside STARTED is refused; stop flushes what is pending and hands back held leases.
 */
import { createHash } from "node:crypto";
import type pg from "pg";
import { nanoid } from "nanoid";
import { TaskrtError, errorMessage } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import type { Component } from "../../contracts/component.ts";
import type { SqlDatabase, SqlExecutor } from "../sql/driver.ts";
import type {
  BrowsedMessage,
  BrowseQuery,
  MessageBrowser,
  MessagePage,
  PausableQueues,
  ProgressReports,
  PurgeableQueues,
  RetentionPolicy,
  RetentionStore,
  ConsumeOptions,
  DeadLetterPage,
  DeadLetterStore,
  Delivery,
  Headers,
  PublishOptions,
  PublishResult,
  UniquePublishOptions,
  UniquePublisher,
  QueueDriver,
  QueueStats,
  Subscription,
} from "./driver.ts";
import {
  COUNT_DEAD_SQL,
  COUNT_IN_FLIGHT_SQL,
  LIST_IN_FLIGHT_SQL,
  PROGRESS_SQL,
  SAVE_RATE_WINDOWS_SQL,
  IS_PAUSED_SQL,
  PROMOTE_SQL,
  PRUNE_DEAD_BY_AGE_SQL,
  PRUNE_DEAD_BY_COUNT_SQL,
  PURGE_SQL,
  RELEASE_KEYS_SQL,
  REMOVE_SQL,
  SET_PAUSED_SQL,
  browseSql,
  DDL,
  DISCARD_DEAD_SQL,
  EXTEND_SQL,
  INSERT_SQL,
  LEASE_SQL,
  LIST_DEAD_SQL,
  MESSAGES_TABLE,
  NEXT_AVAILABLE_SQL,
  OWNER_LOCK_CLASS,
  RECLAIM_EXPIRED_SQL,
  RECLAIM_FROM_DEAD_SQL,
  RELEASE_OWNED_SQL,
  RETRY_DEAD_SQL,
  SETTLE_SQL,
  STATS_SQL,
} from "./postgres-schema.ts";
import type { LeasedRow, SettlementKind } from "./sqlite-schema.ts";
import { lockRateWindows, takeKey, type NewMessageRow, type UniqueClaim } from "./postgres-claims.ts";
import { browsedMessage, deadMessage, leasedRow, numberOrNull } from "./postgres-rows.ts";
import { uniqueKeyOf } from "./unique-key.ts";
import { SQLITE_QUEUE_ERROR as QUEUE_ERROR } from "./sqlite-storage.ts";
import { SqliteConsumer as LeaseConsumer, type SqliteDelivery as LeaseDelivery } from "./sqlite-consumer.ts";
import { QueueListener } from "./postgres-listener.ts";
import { progressJson } from "./progress-value.ts";
import { RetentionSchedule } from "./retention.ts";
import { checkRates, rateBudget } from "./rate-limit.ts";

/** The `db.sql.postgres` database the queue lives in: the SQL contract, work outside a caller's transaction, and a connection of its own. */
export interface SharedPostgresDatabase extends SqlDatabase {
  runOutsideTransaction<T>(fn: () => T): T;
  connectDedicated(): Promise<pg.Client>;
}

export interface PostgresQueueDriverOptions {
  id: string;
  database: SharedPostgresDatabase;
  ackTimeoutMs: number;
  pollIntervalMs: number;
  logger: Logger;
}

interface PendingInsert {
  row: NewMessageRow;
  unique?: UniqueClaim;
  resolve(id: string, duplicate: boolean): void;
  reject(error: unknown): void;
}

interface Settlement {
  kind: SettlementKind;
  delivery: LeaseDelivery;
  availableAt: number;
  error: string;
}

interface PendingSettlement extends Settlement {
  resolve(): void;
  reject(error: unknown): void;
}

interface Tick {
  now: number;
  inserts: PendingInsert[];
  settlements: PendingSettlement[];
  extensions: LeaseConsumer[];
  fetches: LeaseConsumer[];
  /** Per fetch: how many messages it asks for. */
  wants: number[];
}

/** Ticks running at once: two is enough for one's statements to overlap the other's COMMIT. */
const TICKS_IN_FLIGHT = 2;

interface TickResult {
  /** seq of every settlement that found its message still leased to its consumer. */
  applied: Set<number>;
  leased: LeasedRow[][];
  wanted: number[];
  nextAvailable: (number | null)[];
}

export class PostgresQueueDriver implements QueueDriver, DeadLetterStore, ProgressReports, PausableQueues, MessageBrowser, PurgeableQueues, RetentionStore, UniquePublisher, Component {
  readonly id: string;
  readonly durable = true;
  /** Rate windows live in a table: every process sharing it shares each key's budget, counted in the claim's transaction. */
  readonly rateLimits = true;
  private readonly options: PostgresQueueDriverOptions;
  private readonly database: SharedPostgresDatabase;
  private readonly logger: Logger;
  private state: "created" | "started" | "stopped" = "created";
  private listener: QueueListener | undefined;
  private channel = "";
  private ownerPrefix = "";
  private readonly consumers = new Map<string, Set<LeaseConsumer>>();
  private readonly opened = new Set<LeaseConsumer>();
  private inserts: PendingInsert[] = [];
  private settlements: PendingSettlement[] = [];
  private readonly fetchRequests = new Set<LeaseConsumer>();
  private readonly extendRequests = new Set<LeaseConsumer>();
  private tickScheduled = false;
  private readonly ticksRunning = new Set<Promise<void>>();
  /** Resolves once the last tick started has been handed out: the next one's outcome waits for it. */
  private handedOut: Promise<void> = Promise.resolve();
  /** Messages that running ticks are fetching for each consumer. */
  private readonly fetching = new Map<LeaseConsumer, number>();
  private readonly reclaimDueAt = new Map<string, number>();
  private consumerCount = 0;
  private readonly retention: RetentionSchedule;

  constructor(options: PostgresQueueDriverOptions) {
    this.id = options.id;
    this.options = options;
    this.database = options.database;
    this.logger = options.logger;
    this.retention = new RetentionSchedule((queueName, policy) => this.pruneDead(queueName, policy), options.logger);
  }

  storesIn(databaseId: string): boolean {
    return this.database.id === databaseId;
  }

  describe(): string {
    return `durable, in ${this.database.id}`;
  }

  get ackTimeoutMs(): number {
    return this.options.ackTimeoutMs;
  }

  get pollIntervalMs(): number {
    return this.options.pollIntervalMs;
  }

  async start(): Promise<void> {
    if (this.state === "started") return;
    let schema: string;
    try {
      schema = await this.outside(() =>
        this.database.transaction(async (tx) => {
          // Processes starting together would race to create the table: one at a time.
          await tx.query("SELECT pg_advisory_xact_lock(?, 0)", [OWNER_LOCK_CLASS]);
          await tx.execute(DDL);
          const [row] = await tx.query("SELECT current_schema() AS schema");
          return String(row?.schema);
        }),
      );
    } catch (cause) {
      throw this.storageError(`cannot create its table ${MESSAGES_TABLE} in database ${this.database.id}`, cause, "the database must be started and writable; if the table exists with another shape, drop or rename it");
    }
    // Channels are database-wide: one per table, so queues in other schemas never wake ours.
    this.channel = `taskrt_queue_${createHash("sha1").update(`${schema}.${MESSAGES_TABLE}`).digest("hex").slice(0, 16)}`;
    const listener = new QueueListener({
      connect: () => this.database.connectDedicated(),
      channel: this.channel,
      retryMs: this.options.pollIntervalMs,
      logger: this.logger,
      onNotify: (queueName) => this.wakeQueue(queueName),
      onReconnect: () => {
        for (const queueName of this.consumers.keys()) this.wakeQueue(queueName);
      },
    });
    try {
      await listener.open();
    } catch (cause) {
      throw this.storageError(`cannot open its listening connection to database ${this.database.id}`, cause, "the database must accept one more connection than its pool's max_open for each queue driver");
    }
    this.listener = listener;
    this.ownerPrefix = `${listener.ownerKey}/${nanoid(10)}`;
    this.state = "started";
    await this.retention.start();
  }

  async stop(): Promise<void> {
    if (this.state !== "started") return;
    this.retention.stop();
    for (const consumer of this.opened) consumer.close();
    this.opened.clear();
    this.fetchRequests.clear();
    this.extendRequests.clear();
    while (this.ticksRunning.size > 0 || this.inserts.length > 0 || this.settlements.length > 0) {
      if (this.ticksRunning.size > 0) await Promise.all(this.ticksRunning);
      else await this.runTick();
    }
    await this.releaseHeldLeases();
    this.consumers.clear();
    this.state = "stopped";
    await this.listener?.close();
    this.listener = undefined;
  }

  // Unsettled deliveries go back to their queues now (no attempt counted) rather than at lease expiry.
  private async releaseHeldLeases(): Promise<void> {
    const queues = [...this.consumers.keys()];
    try {
      for (const queueName of queues) await this.outside(() => this.database.execute(RELEASE_OWNED_SQL, [queueName, `${this.ownerPrefix}:%`]));
    } catch (cause) {
      this.logger.warn("could not hand back unsettled messages at stop; they are delivered again once their leases expire", { error: errorMessage(cause) });
    }
  }

  /** Queues share one table: there is nothing to create per queue. */
  async declare(_queueName: string): Promise<void> {}

  publish(queueName: string, body: unknown, headers: Headers, options?: PublishOptions): Promise<string> {
    return this.enqueue(queueName, body, headers, options, undefined).then((result) => result.id);
  }

  /** Dropped (and said so) while a message with the key waits in the queue, or within `uniqueForMs` of its publish. */
  publishUnique(queueName: string, body: unknown, headers: Headers, options: UniquePublishOptions): Promise<PublishResult> {
    try {
      const key = uniqueKeyOf(this.id, queueName, options);
      return this.enqueue(queueName, body, headers, options, { key, heldUntil: Date.now() + this.delayOf(queueName, options.uniqueForMs) });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private enqueue(queueName: string, body: unknown, headers: Headers, options: PublishOptions | undefined, unique: UniqueClaim | undefined): Promise<PublishResult> {
    try {
      this.requireStarted(`publish to queue "${queueName}"`);
      const now = Date.now();
      const row: NewMessageRow = {
        id: nanoid(),
        queue: queueName,
        body: this.serializeBody(queueName, body),
        headers: headers && Object.keys(headers).length > 0 ? JSON.stringify(headers) : null,
        priority: this.priorityOf(queueName, options?.priority),
        available_at: now + this.delayOf(queueName, options?.delayMs),
        created_at: now,
      };
      const transaction = this.database.currentTransaction();
      if (transaction) return this.publishInTransaction(transaction, row, unique);
      return new Promise((resolve, reject) => {
        this.inserts.push({ row, unique, resolve: (id, duplicate) => resolve({ id, duplicate }), reject });
        this.scheduleTick();
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async consume(queueName: string, options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Subscription> {
    this.requireStarted(`consume from queue "${queueName}"`);
    if (!Number.isInteger(options.prefetch) || options.prefetch < 1) {
      throw new TaskrtError(QUEUE_ERROR.PREFETCH, `queue driver ${this.id}: prefetch for queue "${queueName}" must be a whole number of at least 1, found ${String(options.prefetch)}`, {
        entryId: this.id,
      });
    }
    const rates = checkRates(this.id, queueName, options.rates);
    // Before the first fetch: a restarted process takes back its dead predecessor's leases at once.
    await this.recoverFromDead(queueName);
    this.requireStarted(`consume from queue "${queueName}"`);
    const consumer = new LeaseConsumer(this, queueName, options.prefetch, `${this.ownerPrefix}:${++this.consumerCount}`, onDelivery, rates);
    let consumers = this.consumers.get(queueName);
    if (!consumers) this.consumers.set(queueName, (consumers = new Set()));
    consumers.add(consumer);
    this.opened.add(consumer);
    this.requestFetch(consumer);
    return {
      cancel: async () => {
        consumer.cancel();
        this.consumers.get(queueName)?.delete(consumer);
        this.fetchRequests.delete(consumer);
      },
    };
  }

  /** Written at once (not batched): an operator looking at the message sees it. Inside the handler's open transaction, it commits with it. */
  async reportProgress(delivery: LeaseDelivery, value: unknown): Promise<void> {
    const params = [progressJson(value), delivery.seq, delivery.consumer.owner];
    const action = `record the progress of message ${delivery.message.id}`;
    const transaction = this.database.currentTransaction();
    if (transaction) {
      await this.write(action, () => transaction.execute(PROGRESS_SQL, params), " inside the open transaction");
      return;
    }
    this.requireStarted(action);
    await this.write(action, () => this.outside(() => this.database.execute(PROGRESS_SQL, params)));
  }

  async listInFlight(queueName: string, page: { limit: number; offset: number }): Promise<MessagePage<BrowsedMessage>> {
    this.requireStarted(`list the messages in flight in queue "${queueName}"`);
    const now = Date.now();
    const rows = await this.database.query(LIST_IN_FLIGHT_SQL, [queueName, now, page.limit, page.offset]);
    const [count] = await this.database.query(COUNT_IN_FLIGHT_SQL, [queueName, now]);
    return { messages: rows.map((row) => browsedMessage(row, true)), total: Number(count?.total ?? 0) };
  }

  /** Kept in the database: claims in every process skip the queue's messages from the next fetch on. */
  async pause(queueName: string): Promise<void> {
    await this.setPaused(queueName, true);
  }

  /** Every process LISTENing is told, so its consumers of the queue fetch at once. */
  async resume(queueName: string): Promise<void> {
    await this.setPaused(queueName, false);
  }

  async isPaused(queueName: string): Promise<boolean> {
    this.requireStarted(`read whether queue "${queueName}" is paused`);
    const [row] = await this.database.query(IS_PAUSED_SQL, [queueName]);
    return row?.paused === true;
  }

  private async setPaused(queueName: string, paused: boolean): Promise<void> {
    const action = `${paused ? "pause" : "resume"} queue "${queueName}"`;
    this.requireStarted(action);
    await this.write(action, () => this.outside(() => this.database.query(SET_PAUSED_SQL, [queueName, paused, this.channel])));
  }

  /** Waiting (deliverable now) or delayed messages, by publish order. */
  async browse(queueName: string, query: BrowseQuery): Promise<MessagePage<BrowsedMessage>> {
    this.requireStarted(`browse queue "${queueName}"`);
    const sql = browseSql(query.state, query.order);
    const now = Date.now();
    const rows = await this.database.query(sql.list, [queueName, now, query.limit, query.offset]);
    const [count] = await this.database.query(sql.count, [queueName, now]);
    return { messages: rows.map((row) => browsedMessage(row, false)), total: Number(count?.total ?? 0) };
  }

  /** Deliverable at once, at the front of its priority; consumers in every process are woken. */
  async promote(queueName: string, id: string): Promise<boolean> {
    const action = `promote message ${id} of queue "${queueName}"`;
    this.requireStarted(action);
    return (await this.write(action, () => this.outside(() => this.database.query(PROMOTE_SQL, [queueName, id, this.channel])))).length > 0;
  }

  async remove(queueName: string, id: string): Promise<boolean> {
    return (await this.ownWrite(`remove message ${id} of queue "${queueName}"`, REMOVE_SQL, [queueName, id])) > 0;
  }

  /** Every waiting and delayed message of the queue goes; in-flight and dead ones stay. */
  purge(queueName: string): Promise<number> {
    return this.ownWrite(`purge queue "${queueName}"`, PURGE_SQL, [queueName]);
  }

  /** Dead messages past the policy's age, and beyond its count (oldest first), are deleted; so are deduplication keys that hold nothing any more. */
  async pruneDead(queueName: string, policy: RetentionPolicy): Promise<number> {
    const action = `prune the dead messages of queue "${queueName}"`;
    this.requireStarted(action);
    const now = Date.now();
    return this.write(action, () =>
      this.outside(() =>
        this.database.transaction(async (tx) => {
          let pruned = 0;
          if (policy.maxAgeMs !== undefined) pruned += (await tx.execute(PRUNE_DEAD_BY_AGE_SQL, [queueName, now - policy.maxAgeMs])).rowsAffected;
          if (policy.maxCount !== undefined) pruned += (await tx.execute(PRUNE_DEAD_BY_COUNT_SQL, [queueName, queueName, policy.maxCount])).rowsAffected;
          await tx.execute(RELEASE_KEYS_SQL, [queueName, now]);
          return pruned;
        }),
      ),
    );
  }

  retain(queueName: string, policy: RetentionPolicy): void {
    this.retention.set(queueName, policy);
  }

  /** One statement of the driver's own, outside any caller's transaction; resolves to the rows it changed. */
  private async ownWrite(action: string, sql: string, params: unknown[]): Promise<number> {
    this.requireStarted(action);
    return (await this.write(action, () => this.outside(() => this.database.execute(sql, params)))).rowsAffected;
  }

  /** Runs one of the driver's writes, its failure named as a storage error. */
  private async write<T>(action: string, run: () => Promise<T>, where = ""): Promise<T> {
    try {
      return await run();
    } catch (cause) {
      throw this.storageError(`could not ${action}${where} in database ${this.database.id}`, cause);
    }
  }

  async stats(queueName: string): Promise<QueueStats> {
    this.requireStarted(`read the stats of queue "${queueName}"`);
    const now = Date.now();
    const [row] = await this.database.query(STATS_SQL, [now, now, now, now, queueName]);
    return { ready: Number(row?.ready ?? 0), inFlight: Number(row?.in_flight ?? 0), delayed: Number(row?.delayed ?? 0), dead: Number(row?.dead ?? 0) };
  }

  async listDead(queueName: string, page: { limit: number; offset: number }): Promise<DeadLetterPage> {
    this.requireStarted(`list the dead messages of queue "${queueName}"`);
    const rows = await this.database.query(LIST_DEAD_SQL, [queueName, page.limit, page.offset]);
    const [count] = await this.database.query(COUNT_DEAD_SQL, [queueName]);
    return { messages: rows.map(deadMessage), total: Number(count?.total ?? 0) };
  }

  /** Ready again at once with no attempts counted; inside the caller's open transaction it is part of it. Listeners wake at its commit. */
  async retryDead(queueName: string, id: string): Promise<boolean> {
    this.requireStarted(`retry dead message ${id} of queue "${queueName}"`);
    return this.changeDead(`retry dead message ${id} of queue "${queueName}"`, RETRY_DEAD_SQL, [Date.now(), queueName, id, this.channel]);
  }

  async discardDead(queueName: string, id: string): Promise<boolean> {
    this.requireStarted(`discard dead message ${id} of queue "${queueName}"`);
    return this.changeDead(`discard dead message ${id} of queue "${queueName}"`, DISCARD_DEAD_SQL, [queueName, id]);
  }

  private async changeDead(action: string, sql: string, params: unknown[]): Promise<boolean> {
    try {
      return (await this.database.execute(sql, params)).rowsAffected > 0;
    } catch (cause) {
      throw this.storageError(`could not ${action} in database ${this.database.id}`, cause);
    }
  }

  /** Called by a delivery: joins the caller's open transaction, or waits for the next tick's commit. */
  settle(delivery: LeaseDelivery, kind: SettlementKind, delayMs: number, error: string): Promise<void> {
    if (this.state !== "started" || delivery.consumer.closed) {
      return Promise.reject(this.notRunning(`${kind} message ${delivery.message.id} of queue "${delivery.consumer.queue}"`, delivery.consumer.closed));
    }
    const settlement: Settlement = { kind, delivery, availableAt: Date.now() + delayMs, error };
    const transaction = this.database.currentTransaction();
    if (transaction) return this.settleInTransaction(transaction, settlement);
    return new Promise((resolve, reject) => {
      this.settlements.push({ ...settlement, resolve, reject });
      delivery.consumer.settled(delivery);
      this.scheduleTick();
    });
  }

  requestFetch(consumer: LeaseConsumer): void {
    if (this.state !== "started" || consumer.cancelled) return;
    this.fetchRequests.add(consumer);
    this.scheduleTick();
  }

  requestExtension(consumer: LeaseConsumer): void {
    if (this.state !== "started") return;
    this.extendRequests.add(consumer);
    this.scheduleTick();
  }

  private wakeQueue(queueName: string): void {
    if (this.state !== "started") return;
    for (const consumer of this.consumers.get(queueName) ?? []) consumer.wake();
  }

  private scheduleTick(): void {
    if (this.tickScheduled || this.ticksRunning.size >= TICKS_IN_FLIGHT) return;
    this.tickScheduled = true;
    setImmediate(() => {
      this.tickScheduled = false;
      if (this.state === "started" && this.ticksRunning.size < TICKS_IN_FLIGHT) void this.runTick();
    });
  }

  /** One transaction on a pooled connection of its own, never the caller's; it gathers its work once it has the connection. */
  private runTick(): Promise<void> {
    if (!this.hasWork()) return Promise.resolve();
    let tick: Tick | undefined;
    const outcome = this.outside(() =>
      this.database.transaction(async (tx) => {
        tick = this.takeTick();
        return this.applyTick(tx, tick);
      }),
    ).then(
      (result) => ({ result, cause: undefined }),
      (cause: unknown) => ({ result: undefined, cause }),
    );
    const running = this.handedOut
      .then(() => outcome)
      .then(({ result, cause }) => {
        if (result) this.tickCommitted(tick!, result);
        else this.tickFailed(tick ?? this.takeTick(), cause);
      })
      .finally(() => {
        this.ticksRunning.delete(running);
        if (this.state === "started" && this.hasWork()) this.scheduleTick();
      });
    this.handedOut = running;
    this.ticksRunning.add(running);
    return running;
  }

  /** A consumer's free slots less what running ticks are already fetching for it. */
  private slotsToFetch(consumer: LeaseConsumer): number {
    return consumer.freeSlots() - (this.fetching.get(consumer) ?? 0);
  }

  private hasWork(): boolean {
    if (this.inserts.length > 0 || this.settlements.length > 0 || this.extendRequests.size > 0) return true;
    for (const consumer of this.fetchRequests) if (this.slotsToFetch(consumer) > 0) return true;
    return false;
  }

  private takeTick(): Tick {
    const fetches = [...this.fetchRequests].filter((consumer) => this.slotsToFetch(consumer) > 0);
    const wants = fetches.map((consumer) => this.slotsToFetch(consumer));
    fetches.forEach((consumer, index) => this.fetching.set(consumer, (this.fetching.get(consumer) ?? 0) + wants[index]));
    const tick: Tick = {
      now: Date.now(),
      inserts: this.inserts,
      settlements: this.settlements,
      extensions: [...this.extendRequests],
      fetches,
      wants,
    };
    this.inserts = [];
    this.settlements = [];
    this.extendRequests.clear();
    this.fetchRequests.clear();
    return tick;
  }

  /** A tick's fetches are over (handed out or failed): their slots count as free or held again. */
  private fetched(tick: Tick): void {
    tick.fetches.forEach((consumer, index) => {
      const left = (this.fetching.get(consumer) ?? 0) - tick.wants[index];
      if (left > 0) this.fetching.set(consumer, left);
      else this.fetching.delete(consumer);
    });
  }

  private async applyTick(tx: SqlExecutor, tick: Tick): Promise<TickResult> {
    const { now } = tick;
    const leaseUntil = now + this.options.ackTimeoutMs;
    if (tick.inserts.length > 0) await this.insertAll(tx, tick.inserts, now);
    const applied = new Set<number>();
    if (tick.settlements.length > 0) {
      for (const row of await tx.query(SETTLE_SQL, [settlementsJson(tick.settlements)])) applied.add(Number(row.seq));
    }
    for (const consumer of tick.extensions) await tx.execute(EXTEND_SQL, [leaseUntil, consumer.heldRows(), consumer.owner]);
    const leased: LeasedRow[][] = [];
    const wanted: number[] = [];
    const nextAvailable: (number | null)[] = [];
    const windows = await lockRateWindows(tx, tick.fetches);
    for (const [index, consumer] of tick.fetches.entries()) {
      if (this.reclaimDue(consumer.queue, now)) await tx.execute(RECLAIM_EXPIRED_SQL, [consumer.queue, now]);
      const want = tick.wants[index];
      const budget = rateBudget(consumer.rates, now, (key) => windows.get(key));
      const rows = budget.allowed > 0 ? (await tx.query(LEASE_SQL, [leaseUntil, consumer.owner, consumer.queue, now, Math.min(want, budget.allowed)])).map(leasedRow) : [];
      for (const window of budget.windows) windows.set(window.key, { window_start: window.start, count: window.used + rows.length });
      leased.push(rows);
      wanted.push(want);
      let next = rows.length < want ? numberOrNull((await tx.query(NEXT_AVAILABLE_SQL, [consumer.queue, now]))[0]?.next) : null;
      // Held back by a rate: look again when its window ends, not at the next poll.
      if (rows.length < want && budget.allowed < want) next = Math.min(next ?? Infinity, budget.windowEnd);
      nextAvailable.push(next);
    }
    if (windows.size > 0) {
      await tx.execute(SAVE_RATE_WINDOWS_SQL, [JSON.stringify([...windows].map(([key, window]) => ({ key, ...window })))]);
    }
    return { applied, leased, wanted, nextAvailable };
  }

  /** Inserts the publishes in publish order; a keyed one takes its key first (seeing the messages inserted before it), or is dropped. */
  private async insertAll(tx: SqlExecutor, inserts: readonly PendingInsert[], now: number): Promise<void> {
    let batch: NewMessageRow[] = [];
    const flush = async () => {
      if (batch.length > 0) await tx.execute(INSERT_SQL, [JSON.stringify(batch), this.channel]);
      batch = [];
    };
    for (const insert of inserts) {
      if (insert.unique) {
        await flush();
        insert.unique.existing = await takeKey(tx, insert.row, insert.unique, now);
        if (insert.unique.existing !== undefined) continue;
      }
      batch.push(insert.row);
    }
    await flush();
  }

  // Expired leases and leases of dead processes are looked for at most once per poll interval per
  // queue: scanning on every fetch would cost more than it finds.
  private reclaimDue(queueName: string, now: number): boolean {
    if ((this.reclaimDueAt.get(queueName) ?? 0) > now) return false;
    this.reclaimDueAt.set(queueName, now + this.options.pollIntervalMs);
    setImmediate(() => void this.recoverFromDead(queueName));
    return true;
  }

  private async recoverFromDead(queueName: string): Promise<void> {
    if (this.state !== "started") return;
    try {
      const { rowsAffected } = await this.outside(() => this.database.execute(RECLAIM_FROM_DEAD_SQL, [queueName]));
      if (rowsAffected > 0) {
        this.logger.warn("took back the leases of a process that died", { queue: queueName, messages: rowsAffected });
        this.wakeQueue(queueName);
      }
    } catch (cause) {
      this.logger.warn("could not look for leases of processes that died; they are delivered again once they expire", { queue: queueName, error: errorMessage(cause) });
    }
  }

  private tickCommitted(tick: Tick, result: TickResult): void {
    for (const insert of tick.inserts) {
      const existing = insert.unique?.existing;
      insert.resolve(existing ?? insert.row.id, existing !== undefined);
    }
    for (const settlement of tick.settlements) {
      if (!result.applied.has(settlement.delivery.seq)) this.warnLostLease(settlement);
      else if (settlement.kind === "retry" || settlement.kind === "release") this.wakeAt(settlement.delivery.consumer.queue, settlement.availableAt);
      settlement.resolve();
    }
    this.fetched(tick);
    tick.fetches.forEach((consumer, index) => consumer.deliver(result.leased[index], result.wanted[index], result.nextAvailable[index], tick.now));
  }

  private tickFailed(tick: Tick, cause: unknown): void {
    const error = this.storageError(`could not write to database ${this.database.id}`, cause, "check that PostgreSQL is up and that the pool has free connections");
    for (const insert of tick.inserts) insert.reject(error);
    for (const settlement of tick.settlements) settlement.reject(error);
    if (tick.fetches.length > 0 || tick.extensions.length > 0) this.logger.error("queue fetch failed; retrying after the poll interval", { error: error.message });
    this.fetched(tick);
    for (const consumer of tick.fetches) consumer.deliver([], 1, null, tick.now);
  }

  private warnLostLease(settlement: Settlement): void {
    const { message, consumer } = settlement.delivery;
    this.logger.warn(`${settlement.kind} of message ${message.id} had no effect: its lease expired and it was delivered again`, {
      queue: consumer.queue,
      hint: "raise ack_timeout above the longest handler run",
    });
  }

  private wakeAt(queueName: string, availableAt: number): void {
    for (const consumer of this.consumers.get(queueName) ?? []) consumer.wakeAt(availableAt);
  }

  private async publishInTransaction(transaction: SqlExecutor, row: NewMessageRow, unique: UniqueClaim | undefined): Promise<PublishResult> {
    try {
      if (unique) {
        const existing = await takeKey(transaction, row, unique, Date.now());
        if (existing !== undefined) return { id: existing, duplicate: true };
      }
      await transaction.execute(INSERT_SQL, [JSON.stringify([row]), this.channel]);
    } catch (cause) {
      throw this.storageError(`could not publish to queue "${row.queue}" inside the open transaction on ${this.database.id}`, cause);
    }
    return { id: row.id, duplicate: false };
  }

  // Settling inside the caller's transaction makes the settlement part of it (an ack commits with
  // the handler's writes, or rolls back with them).
  private settleInTransaction(transaction: SqlExecutor, settlement: Settlement): Promise<void> {
    const { delivery } = settlement;
    delivery.consumer.settled(delivery);
    return transaction.query(SETTLE_SQL, [settlementsJson([settlement])]).then(
      (rows) => {
        if (rows.length === 0) this.warnLostLease(settlement);
        else if (settlement.kind === "retry" || settlement.kind === "release") this.wakeAt(delivery.consumer.queue, settlement.availableAt);
      },
      (cause) => {
        throw this.storageError(`could not ${settlement.kind} message ${delivery.message.id} inside the open transaction on ${this.database.id}`, cause);
      },
    );
  }

  /** The driver's own statements never join a caller's transaction. */
  private outside<T>(work: () => Promise<T>): Promise<T> {
    return this.database.runOutsideTransaction(work);
  }

  private requireStarted(action: string): void {
    if (this.state !== "started") throw this.notRunning(action);
  }

  private notRunning(action: string, stoppedSinceDelivery = false): TaskrtError {
    const why = stoppedSinceDelivery ? "it stopped after the delivery, which went back to the queue" : this.state === "created" ? "it is not started" : "it is stopped";
    return new TaskrtError(QUEUE_ERROR.STOPPED, `queue driver ${this.id} cannot ${action}: ${why}`, {
      entryId: this.id,
      hint:
        this.state === "created"
          ? `start ${this.id} first: give it lifecycle.auto_start: true, or list it in lifecycle.requires of the entry that uses it`
          : "settle deliveries before the driver stops; a stopped driver hands unsettled messages back to their queues",
    });
  }

  private storageError(what: string, cause: unknown, hint?: string): TaskrtError {
    return new TaskrtError(QUEUE_ERROR.STORAGE, `queue driver ${this.id} ${what}: ${storageReason(cause)}`, { entryId: this.id, hint, cause });
  }

  private serializeBody(queueName: string, body: unknown): string {
    let text: string | undefined;
    try {
      text = JSON.stringify(body === undefined ? null : body);
    } catch (cause) {
      throw bodyError(this.id, queueName, errorMessage(cause), cause);
    }
    if (text === undefined) throw bodyError(this.id, queueName, `a ${typeof body} has no JSON form`);
    return text;
  }

  private priorityOf(queueName: string, priority: number | undefined): number {
    if (priority === undefined) return 0;
    if (Number.isInteger(priority) && Math.abs(priority) <= 2 ** 31 - 1) return priority;
    throw new TaskrtError(QUEUE_ERROR.OPTIONS, `queue driver ${this.id}: priority for queue "${queueName}" must be a whole number, found ${String(priority)}`, { entryId: this.id });
  }

  private delayOf(queueName: string, delayMs: number | undefined): number {
    if (delayMs === undefined) return 0;
    if (Number.isFinite(delayMs) && delayMs >= 0) return Math.round(delayMs);
    throw new TaskrtError(QUEUE_ERROR.OPTIONS, `queue driver ${this.id}: delay for queue "${queueName}" must be a number of milliseconds of at least 0, found ${String(delayMs)}`, { entryId: this.id });
  }
}

function settlementsJson(settlements: readonly Settlement[]): string {
  return JSON.stringify(
    settlements.map(({ kind, delivery, availableAt, error }) => ({ seq: delivery.seq, owner: delivery.consumer.owner, kind, available_at: availableAt, error })),
  );
}

function bodyError(driverId: string, queueName: string, reason: string, cause?: unknown): TaskrtError {
  return new TaskrtError(QUEUE_ERROR.INVALID_MESSAGE, `queue driver ${driverId} cannot store the message body for queue "${queueName}": ${reason}`, {
    entryId: driverId,
    hint: "publish JSON values: objects, arrays, strings, numbers, booleans or null",
    cause,
  });
}

/** PostgreSQL's own words: the database's E_SQL wrapping (which names the database again) is dropped. */
function storageReason(cause: unknown): string {
  if (cause instanceof TaskrtError && cause.code.startsWith("E_SQL") && cause.cause instanceof Error) return cause.cause.message;
  return errorMessage(cause);
}
