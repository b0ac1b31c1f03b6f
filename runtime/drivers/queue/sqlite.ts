/**
 * @module drivers/queue/sqlite — the durable queue driver on SQLite: its own file or the app's
 * database, group-committed publishes and settlements, leased fetches, lease expiry and extension.
 *
 * Every write the driver makes on its own goes through one "tick": a single transaction that inserts
 * the publishes, applies the settlements (ack deletes the row; retry, bury and release update it),
 * extends the leases of consumers still working, and leases the next messages for consumers with
 * free slots. A tick runs on the next turn of the event loop after the first request (or after
 * `commitWindowMs`), so everything asked for in between shares one commit and one fsync. Each
 * publish and settlement promise resolves after that commit; deliveries are handed out after it.
 *
 * On the app's database, a publish or settlement made while the caller's async context has a
 * transaction open goes into that transaction instead (atomic with the handler's own writes), and
 * every tick is a transaction of the database's group commit: it joins the batch the handlers'
 * transactions and writes share, so acks pay no commit of their own, and it gathers its work when
 * its turn comes rather than when it was scheduled. The database tells the driver about each
 * COMMIT, which is when messages published inside a handler's transaction become deliverable.
 *
 * On a database in a file, every lease names the process holding it, which holds a lock beside the
 * database for as long as it lives (sqlite-owner-lock): the leases of a process that died are taken
 * back when a consumer starts on their queue, and checked for once per poll interval after that
 * (sqlite-lease-recovery), instead of waiting out `ack_timeout`.
 *
 * Driver states: CREATED → (start) STARTED → (stop) STOPPED. Publishing or settling outside STARTED
 * is refused; stop flushes what is pending before closing.
 */
import { AsyncResource } from "node:async_hooks";
import type BetterSqlite3 from "better-sqlite3";
import { nanoid } from "nanoid";
import { TaskrtError, errorMessage } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import type { Component } from "../../contracts/component.ts";
import type { SqlExecutor } from "../sql/driver.ts";
import type {
  ConsumeOptions,
  DeadLetterPage,
  DeadLetterStore,
  DeadMessage,
  Delivery,
  Headers,
  BrowsedMessage,
  BrowseQuery,
  MessageBrowser,
  MessagePage,
  PausableQueues,
  ProgressReports,
  PurgeableQueues,
  RetentionPolicy,
  RetentionStore,
  PublishOptions,
  PublishResult,
  QueueDriver,
  QueueStats,
  Subscription,
  UniquePublishOptions,
  UniquePublisher,
} from "./driver.ts";
import { uniqueKeyOf } from "./unique-key.ts";
import { progressJson } from "./progress-value.ts";
import { RetentionSchedule } from "./retention.ts";
import { checkRates } from "./rate-limit.ts";
import {
  BROWSE_COLUMNS,
  PROGRESS_SQL,
  type BrowseRow,
  DISCARD_DEAD_SQL,
  FIND_KEY_SQL,
  HOLD_KEY_SQL,
  keyHeld,
  type KeyRow,
  INSERT_SQL,
  MESSAGES_TABLE,
  RETRY_DEAD_SQL,
  SETTLEMENT_SQL,
  createSchema,
  prepareStatements,
  type DeadRow,
  type QueueStatements,
  type SettlementKind,
} from "./sqlite-schema.ts";
import { applyTick, settlementParams, type PendingInsert, type PendingSettlement, type Settlement, type Tick, type TickResult } from "./sqlite-tick.ts";
import { SQLITE_QUEUE_ERROR, describeStorage, openQueueConnection, type SharedSqliteDatabase, type SqliteQueueStorage } from "./sqlite-storage.ts";
import { SqliteConsumer, type SqliteDelivery } from "./sqlite-consumer.ts";
import { acquireOwnerLock, ownersDirectory, type OwnerLock } from "./sqlite-owner-lock.ts";
import { LeaseRecovery } from "./sqlite-lease-recovery.ts";

export { SQLITE_QUEUE_ERROR, type SharedSqliteDatabase, type SqliteQueueStorage, type SqliteSynchronous } from "./sqlite-storage.ts";

export interface SqliteQueueDriverOptions {
  id: string;
  storage: SqliteQueueStorage;
  ackTimeoutMs: number;
  pollIntervalMs: number;
  /** 0: commit on the next turn of the event loop. */
  commitWindowMs: number;
  logger: Logger;
}

export class SqliteQueueDriver implements QueueDriver, DeadLetterStore, PausableQueues, UniquePublisher, ProgressReports, PurgeableQueues, RetentionStore, MessageBrowser, Component {
  readonly id: string;
  /** Rate windows live in the database: every process sharing it shares each key's budget. */
  readonly rateLimits = true;
  private readonly options: SqliteQueueDriverOptions;
  private readonly logger: Logger;
  private connection: BetterSqlite3.Database | undefined;
  private statements: QueueStatements | undefined;
  private transactionOf: BetterSqlite3.Transaction<(work: () => unknown) => unknown> = undefined as never;
  private state: "created" | "started" | "stopped" = "created";
  private readonly consumers = new Map<string, Set<SqliteConsumer>>();
  private readonly opened = new Set<SqliteConsumer>();
  private inserts: PendingInsert[] = [];
  private settlements: PendingSettlement[] = [];
  private readonly fetchRequests = new Set<SqliteConsumer>();
  private readonly extendRequests = new Set<SqliteConsumer>();
  private tickScheduled = false;
  private tickRunning: Promise<void> | undefined;
  private readonly reclaimDueAt = new Map<string, number>();
  /** Queues that got messages inside a caller's transaction: their consumers wake at the next COMMIT. */
  private readonly commitWatch = new Set<string>();
  private stopCommitListener: (() => void) | undefined;
  private consumerCount = 0;
  /** `<process owner>/<driver>` on a file, so other processes can tell when its leases' holder died. */
  private ownerPrefix = nanoid(10);
  private ownerLock: OwnerLock | undefined;
  private leaseRecovery: LeaseRecovery | undefined;
  private readonly retention: RetentionSchedule;
  private readonly recoverInCleanContext: (queueName: string) => Promise<number>;
  // Ticks must not run in a handler's async context: there `currentTransaction()` would name the
  // handler's transaction and the shared database would treat our batch as part of it.
  private readonly tickInCleanContext: () => void;

  constructor(options: SqliteQueueDriverOptions) {
    this.id = options.id;
    this.options = options;
    this.logger = options.logger;
    this.tickInCleanContext = AsyncResource.bind(() => this.runScheduledTick());
    this.retention = new RetentionSchedule((queueName, policy) => this.pruneDead(queueName, policy), options.logger);
    this.recoverInCleanContext = AsyncResource.bind((queueName: string) =>
      this.state === "started" && this.leaseRecovery ? this.leaseRecovery.recover(queueName) : Promise.resolve(0),
    );
  }

  get durable(): boolean {
    const storage = this.options.storage;
    if ("file" in storage) return storage.file !== ":memory:";
    return this.connection ? !this.connection.memory : true;
  }

  storesIn(databaseId: string): boolean {
    const storage = this.options.storage;
    return "database" in storage && storage.database.id === databaseId;
  }

  describe(): string {
    const storage = this.options.storage;
    return `${this.durable ? "durable" : "not durable"}, in ${"file" in storage ? storage.file : storage.database.id}`;
  }

  async start(): Promise<void> {
    if (this.state === "started") return;
    const connection = openQueueConnection(this.id, this.options.storage);
    try {
      createSchema(connection);
      this.statements = prepareStatements(connection);
    } catch (cause) {
      if ("file" in this.options.storage) connection.close();
      throw new TaskrtError(SQLITE_QUEUE_ERROR.STORAGE, `queue driver ${this.id} cannot create its table ${MESSAGES_TABLE} in ${describeStorage(this.options.storage)}: ${errorMessage(cause)}`, {
        entryId: this.id,
        hint: "the database must be writable; if the table exists with another shape, drop or rename it",
        cause,
      });
    }
    try {
      this.takeOwnerLock(connection);
    } catch (error) {
      if ("file" in this.options.storage) connection.close();
      throw error;
    }
    this.connection = connection;
    this.transactionOf = connection.transaction((work: () => unknown) => work());
    if ("database" in this.options.storage) this.stopCommitListener = this.options.storage.database.onCommit(() => this.wakeWatchedQueues());
    this.state = "started";
    await this.retention.start();
  }

  async stop(): Promise<void> {
    if (this.state !== "started") return;
    this.retention.stop();
    // Every consumer ever opened, cancelled ones too: a cancelled consumer may still hold
    // deliveries (handlers aborted at stop_timeout) and its lease timer.
    for (const consumer of this.opened) consumer.close();
    this.opened.clear();
    this.fetchRequests.clear();
    this.extendRequests.clear();
    this.stopCommitListener?.();
    this.stopCommitListener = undefined;
    this.commitWatch.clear();
    // Flush what was published or settled before stop: those callers are waiting for a commit.
    while (this.tickRunning || this.inserts.length > 0 || this.settlements.length > 0) {
      if (this.tickRunning) await this.tickRunning;
      else await this.runTick();
    }
    await this.releaseHeldLeases();
    this.consumers.clear();
    this.state = "stopped";
    this.statements = undefined;
    this.browseStatements.clear();
    if ("file" in this.options.storage) this.connection?.close();
    this.connection = undefined;
    this.ownerLock?.release();
    this.ownerLock = undefined;
    this.leaseRecovery = undefined;
  }

  // A database in a file can be shared with other processes: hold this process's owner lock beside
  // it and name it in every lease, so a restarted or sibling process can take back the leases of
  // one that died. An in-memory database dies with its only process: nothing to recover.
  private takeOwnerLock(connection: BetterSqlite3.Database): void {
    if (connection.memory || connection.name === "") return;
    let lock: OwnerLock;
    try {
      lock = acquireOwnerLock(connection.name);
    } catch (cause) {
      throw new TaskrtError(SQLITE_QUEUE_ERROR.STORAGE, `queue driver ${this.id} cannot take its owner lock in ${ownersDirectory(connection.name)}: ${errorMessage(cause)}`, {
        entryId: this.id,
        hint: "the folder beside the database must be writable: a lock file there tells other processes sharing the queue that this one is alive",
        cause,
      });
    }
    this.ownerLock = lock;
    this.ownerPrefix = `${lock.owner}/${nanoid(10)}`;
    this.leaseRecovery = new LeaseRecovery(lock, {
      statements: this.statements!,
      inTransaction: (work) => this.inOwnTransaction(work),
      recovered: (queueName) => {
        if (this.state === "started") for (const consumer of this.consumers.get(queueName) ?? []) consumer.wake();
      },
      logger: this.logger,
    });
  }

  // Deliveries still unsettled at stop go back to their queues now, as releases (no attempt
  // counted), rather than waiting out their leases after the next start.
  private async releaseHeldLeases(): Promise<void> {
    const queues = [...this.consumers.keys()];
    if (queues.length === 0) return;
    const statements = this.statements!;
    try {
      await this.inOwnTransaction(() => {
        for (const queueName of queues) statements.releaseOwned.run(queueName, `${this.ownerPrefix}:*`);
      });
    } catch (cause) {
      this.logger.warn("could not hand back unsettled messages at stop; they are delivered again once their leases expire", {
        error: errorMessage(cause),
      });
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

  private enqueue(queueName: string, body: unknown, headers: Headers, options: PublishOptions | undefined, unique: PendingInsert["unique"]): Promise<PublishResult> {
    try {
      this.requireStarted(`publish to queue "${queueName}"`);
      const now = Date.now();
      const params: PendingInsert["params"] = [
        nanoid(),
        queueName,
        this.serializeBody(queueName, body),
        headers && hasKeys(headers) ? JSON.stringify(headers) : null,
        this.priorityOf(queueName, options?.priority),
        now + this.delayOf(queueName, options?.delayMs),
        now,
      ];
      const transaction = this.currentTransaction();
      if (transaction) return this.publishInTransaction(transaction, params, unique);
      return new Promise((resolve, reject) => {
        this.inserts.push({ params, unique, resolve: (id, duplicate) => resolve({ id, duplicate }), reject });
        this.scheduleTick();
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async consume(queueName: string, options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Subscription> {
    this.requireStarted(`consume from queue "${queueName}"`);
    if (!Number.isInteger(options.prefetch) || options.prefetch < 1) {
      throw new TaskrtError(SQLITE_QUEUE_ERROR.PREFETCH, `queue driver ${this.id}: prefetch for queue "${queueName}" must be a whole number of at least 1, found ${String(options.prefetch)}`, {
        entryId: this.id,
      });
    }
    // Before the first fetch: a restarted process takes back its dead predecessor's leases at once.
    await this.recoverInCleanContext(queueName);
    this.requireStarted(`consume from queue "${queueName}"`);
    const rates = checkRates(this.id, queueName, options.rates);
    const consumer = new SqliteConsumer(this, queueName, options.prefetch, `${this.ownerPrefix}:${++this.consumerCount}`, onDelivery, rates);
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

  async stats(queueName: string): Promise<QueueStats> {
    const statements = this.requireStarted(`read the stats of queue "${queueName}"`);
    const now = Date.now();
    const row = statements.stats.get(now, now, now, now, queueName);
    return { ready: row?.ready ?? 0, inFlight: row?.in_flight ?? 0, delayed: row?.delayed ?? 0, dead: row?.dead ?? 0 };
  }

  async listDead(queueName: string, page: { limit: number; offset: number }): Promise<DeadLetterPage> {
    const statements = this.requireStarted(`list the dead messages of queue "${queueName}"`);
    const rows = statements.listDead.all(queueName, page.limit, page.offset);
    const total = statements.countDead.get(queueName)?.total ?? 0;
    return { messages: rows.map(deadMessage), total };
  }

  /**
   * Ready again at once with no attempts counted. Inside the caller's open transaction on the shared
   * database it is part of that transaction (the consumers wake at its COMMIT); otherwise it commits
   * in a transaction of its own and the queue's local consumers fetch right after.
   */
  retryDead(queueName: string, id: string): Promise<boolean> {
    return this.changeDead(queueName, id, "retry");
  }

  discardDead(queueName: string, id: string): Promise<boolean> {
    return this.changeDead(queueName, id, "discard");
  }

  private async changeDead(queueName: string, id: string, change: "retry" | "discard"): Promise<boolean> {
    const statements = this.requireStarted(`${change} dead message ${id} of queue "${queueName}"`);
    const retry = change === "retry";
    const transaction = this.currentTransaction();
    if (transaction) {
      let changed: boolean;
      try {
        const [sql, params] = retry ? [RETRY_DEAD_SQL, [Date.now(), queueName, id]] : [DISCARD_DEAD_SQL, [queueName, id]];
        changed = (await transaction.execute(sql, params)).rowsAffected > 0;
      } catch (cause) {
        throw new TaskrtError(SQLITE_QUEUE_ERROR.STORAGE, `queue driver ${this.id} could not ${change} dead message ${id} of queue "${queueName}" inside the open transaction on ${describeStorage(this.options.storage)}: ${errorMessage(cause)}`, {
          entryId: this.id,
          cause,
        });
      }
      if (changed && retry) this.watchCommit(queueName);
      return changed;
    }
    let changed: boolean;
    try {
      changed = await this.inOwnTransaction(() => {
        const result = retry ? statements.retryDead.run(Date.now(), queueName, id) : statements.discardDead.run(queueName, id);
        return result.changes > 0;
      });
    } catch (cause) {
      throw new TaskrtError(SQLITE_QUEUE_ERROR.STORAGE, `queue driver ${this.id} could not ${change} dead message ${id} of queue "${queueName}" in ${describeStorage(this.options.storage)}: ${storageReason(cause)}`, {
        entryId: this.id,
        hint: "check the disk (space, permissions) and whether another process holds a long write lock",
        cause,
      });
    }
    if (changed && retry && this.state === "started") {
      for (const consumer of this.consumers.get(queueName) ?? []) consumer.wake();
    }
    return changed;
  }

  /** Written at once (not batched): an operator looking at the message sees it. Inside a handler's transaction on the app database, it commits with it. */
  async reportProgress(delivery: SqliteDelivery, value: unknown): Promise<void> {
    const text = progressJson(value);
    const params: [string, number, string] = [text, delivery.seq, delivery.consumer.owner];
    const transaction = this.currentTransaction();
    if (transaction) {
      await transaction.execute(PROGRESS_SQL, params);
      return;
    }
    await this.writeState(`record the progress of message ${delivery.message.id}`, (statements) => statements.setProgress.run(...params));
  }

  async listInFlight(queueName: string, page: { limit: number; offset: number }): Promise<MessagePage<BrowsedMessage>> {
    const statements = this.requireStarted(`list the messages in flight in queue "${queueName}"`);
    const now = Date.now();
    const rows = statements.listInFlight.all(queueName, now, page.limit, page.offset);
    return { messages: rows.map((row) => browsedMessage(row, true)), total: statements.countInFlight.get(queueName, now)?.total ?? 0 };
  }

  /** Dead messages past the policy's age, and beyond its count (oldest first), are deleted; so are deduplication keys that hold nothing any more. */
  async pruneDead(queueName: string, policy: RetentionPolicy): Promise<number> {
    const now = Date.now();
    return this.writeState(`prune the dead messages of queue "${queueName}"`, (statements) => {
      let pruned = 0;
      if (policy.maxAgeMs !== undefined) pruned += statements.pruneDeadByAge.run(queueName, now - policy.maxAgeMs).changes;
      if (policy.maxCount !== undefined) pruned += statements.pruneDeadByCount.run(queueName, queueName, policy.maxCount).changes;
      statements.releaseKeys.run(queueName, now);
      return pruned;
    });
  }

  retain(queueName: string, policy: RetentionPolicy): void {
    this.retention.set(queueName, policy);
  }

  /** Waiting (deliverable now) or delayed messages, by publish order. */
  async browse(queueName: string, query: BrowseQuery): Promise<MessagePage<BrowsedMessage>> {
    this.requireStarted(`browse queue "${queueName}"`);
    const when = query.state === "waiting" ? "available_at <= ?" : "available_at > ?";
    const where = `FROM ${MESSAGES_TABLE} WHERE queue = ? AND state = 'ready' AND ${when}`;
    const list = this.browseStatement(`SELECT ${BROWSE_COLUMNS} ${where} ORDER BY seq ${query.order === "newest" ? "DESC" : "ASC"} LIMIT ? OFFSET ?`);
    const count = this.browseStatement(`SELECT COUNT(*) AS total ${where}`);
    const now = Date.now();
    const rows = list.all(queueName, now, query.limit, query.offset) as BrowseRow[];
    const { total } = count.get(queueName, now) as { total: number };
    return { messages: rows.map((row) => browsedMessage(row, false)), total };
  }

  /** Deliverable at once, at the front of its priority; local consumers fetch it right away, others at their next poll. */
  async promote(queueName: string, id: string): Promise<boolean> {
    const promoted = await this.writeState(`promote message ${id} of queue "${queueName}"`, (statements) => statements.promote.run(queueName, id).changes > 0);
    if (promoted) for (const consumer of this.consumers.get(queueName) ?? []) consumer.wake();
    return promoted;
  }

  async remove(queueName: string, id: string): Promise<boolean> {
    return this.writeState(`remove message ${id} of queue "${queueName}"`, (statements) => statements.remove.run(queueName, id).changes > 0);
  }

  private readonly browseStatements = new Map<string, BetterSqlite3.Statement>();

  private browseStatement(sql: string): BetterSqlite3.Statement {
    let statement = this.browseStatements.get(sql);
    if (!statement) this.browseStatements.set(sql, (statement = this.connection!.prepare(sql)));
    return statement;
  }

  /** Every waiting and delayed message of the queue goes; in-flight and dead ones stay. */
  async purge(queueName: string): Promise<number> {
    return this.writeState(`purge queue "${queueName}"`, (statements) => statements.purge.run(queueName).changes);
  }

  /** Kept in the database: every process sharing it stops leasing the queue's messages (within its poll interval). */
  async pause(queueName: string): Promise<void> {
    await this.writeState(`pause queue "${queueName}"`, (statements) => statements.setPaused.run(queueName, 1));
  }

  async resume(queueName: string): Promise<void> {
    await this.writeState(`resume queue "${queueName}"`, (statements) => statements.setPaused.run(queueName, 0));
    for (const consumer of this.consumers.get(queueName) ?? []) consumer.wake();
  }

  async isPaused(queueName: string): Promise<boolean> {
    const statements = this.requireStarted(`read whether queue "${queueName}" is paused`);
    return (statements.isPaused.get(queueName)?.paused ?? 0) === 1;
  }

  private async writeState<T>(action: string, write: (statements: QueueStatements) => T): Promise<T> {
    const statements = this.requireStarted(action);
    try {
      return await this.inOwnTransaction(() => write(statements));
    } catch (cause) {
      throw new TaskrtError(SQLITE_QUEUE_ERROR.STORAGE, `queue driver ${this.id} could not ${action} in ${describeStorage(this.options.storage)}: ${storageReason(cause)}`, {
        entryId: this.id,
        hint: "check the disk (space, permissions) and whether another process holds a long write lock",
        cause,
      });
    }
  }

  /** Called by a delivery: queues its settlement for the next tick, which resolves it after commit. */
  settle(delivery: SqliteDelivery, kind: SettlementKind, delayMs: number, error: string): Promise<void> {
    if (this.state !== "started" || delivery.consumer.closed) {
      return Promise.reject(this.notRunning(`${kind} message ${delivery.message.id} of queue "${delivery.consumer.queue}"`, delivery.consumer.closed));
    }
    const transaction = this.currentTransaction();
    if (transaction) return this.settleInTransaction(transaction, { kind, delivery, availableAt: Date.now() + delayMs, error });
    return new Promise((resolve, reject) => {
      this.settlements.push({ kind, delivery, availableAt: Date.now() + delayMs, error, resolve, reject });
      delivery.consumer.settled(delivery);
      this.scheduleTick();
    });
  }

  requestFetch(consumer: SqliteConsumer): void {
    if (this.state !== "started" || consumer.cancelled) return;
    this.fetchRequests.add(consumer);
    this.scheduleTick();
  }

  requestExtension(consumer: SqliteConsumer): void {
    if (this.state !== "started") return;
    this.extendRequests.add(consumer);
    this.scheduleTick();
  }

  get ackTimeoutMs(): number {
    return this.options.ackTimeoutMs;
  }

  get pollIntervalMs(): number {
    return this.options.pollIntervalMs;
  }

  private scheduleTick(): void {
    if (this.tickScheduled || this.tickRunning) return;
    this.tickScheduled = true;
    const window = this.options.commitWindowMs;
    if (window > 0 && (this.inserts.length > 0 || this.settlements.length > 0)) setTimeout(this.tickInCleanContext, window);
    else setImmediate(this.tickInCleanContext);
  }

  private runScheduledTick(): void {
    this.tickScheduled = false;
    if (this.state !== "started" || this.tickRunning) return;
    void this.runTick();
  }

  /**
   * Runs one tick: on its own file synchronously, in a transaction of its own; on the shared
   * database as a transaction of its group commit, which gathers the work when it gets its turn
   * and settles it after the batch's COMMIT.
   */
  private runTick(): Promise<void> {
    if (!this.hasWork()) return Promise.resolve();
    const storage = this.options.storage;
    if ("database" in storage) return this.runSharedTick(storage.database);
    const tick = this.takeTick();
    try {
      const result = this.transactionOf.immediate(() => this.applyTick(tick)) as TickResult;
      this.tickCommitted(tick, result);
    } catch (cause) {
      this.tickFailed(tick, cause);
    }
    return Promise.resolve();
  }

  private runSharedTick(database: SharedSqliteDatabase): Promise<void> {
    let tick: Tick | undefined;
    const running = database
      .transaction(async () => {
        tick = this.takeTick();
        // A failing statement throws, which rolls the tick back to its savepoint in the batch.
        return this.applyTick(tick);
      })
      .then(
        (result) => this.tickCommitted(tick!, result),
        // No tick taken: the database refused the transaction (closed); fail what was waiting.
        (cause) => this.tickFailed(tick ?? this.takeTick(), cause),
      )
      .finally(() => {
        this.tickRunning = undefined;
        if (this.state === "started" && this.hasWork()) this.scheduleTick();
      });
    this.tickRunning = running;
    return running;
  }

  private hasWork(): boolean {
    if (this.inserts.length > 0 || this.settlements.length > 0 || this.extendRequests.size > 0) return true;
    for (const consumer of this.fetchRequests) if (consumer.freeSlots() > 0) return true;
    return false;
  }

  /** Everything asked for so far, handed to one tick. */
  private takeTick(): Tick {
    const tick: Tick = {
      now: Date.now(),
      inserts: this.inserts,
      settlements: this.settlements,
      extensions: [...this.extendRequests],
      fetches: [...this.fetchRequests].filter((consumer) => consumer.freeSlots() > 0),
    };
    this.inserts = [];
    this.settlements = [];
    this.extendRequests.clear();
    this.fetchRequests.clear();
    return tick;
  }

  private applyTick(tick: Tick): TickResult {
    const leaseUntil = tick.now + this.options.ackTimeoutMs;
    return applyTick(this.statements!, tick, leaseUntil, (queueName) => this.reclaimDue(queueName, tick.now));
  }

  /** Runs `work` in a transaction: on its own file at once (BEGIN IMMEDIATE), on the shared database in its group commit. */
  private inOwnTransaction<T>(work: () => T): T | Promise<T> {
    const storage = this.options.storage;
    if ("file" in storage) return this.transactionOf.immediate(work) as T;
    return storage.database.transaction(async () => work());
  }

  // Expired leases (a consumer that died or stalled) become ready again, at most once per poll
  // interval per queue: scanning the leased rows on every fetch would cost more than it finds.
  // Leases of processes that died are checked for at the same pace, after the tick's transaction.
  private reclaimDue(queueName: string, now: number): boolean {
    if ((this.reclaimDueAt.get(queueName) ?? 0) > now) return false;
    this.reclaimDueAt.set(queueName, now + this.options.pollIntervalMs);
    if (this.leaseRecovery) setImmediate(this.recoverInCleanContext, queueName);
    return true;
  }

  private tickCommitted(tick: Tick, result: TickResult): void {
    for (const insert of tick.inserts) {
      const existing = insert.unique?.existing;
      insert.resolve(existing ?? insert.params[0], existing !== undefined);
    }
    tick.settlements.forEach((settlement, index) => {
      if (!result.applied[index]) this.warnLostLease(settlement);
      else if (settlement.kind === "retry" || settlement.kind === "release") this.wakeAt(settlement.delivery.consumer.queue, settlement.availableAt);
      settlement.resolve();
    });
    const fetched = new Set<SqliteConsumer>();
    tick.fetches.forEach((consumer, index) => {
      fetched.add(consumer);
      consumer.deliver(result.leased[index], result.wanted[index], result.nextAvailable[index], tick.now);
    });
    this.notifyPublished(tick.inserts, fetched);
  }

  private tickFailed(tick: Tick, cause: unknown): void {
    const error = new TaskrtError(SQLITE_QUEUE_ERROR.STORAGE, `queue driver ${this.id} could not write to ${describeStorage(this.options.storage)}: ${storageReason(cause)}`, {
      entryId: this.id,
      hint: "check the disk (space, permissions) and whether another process holds a long write lock",
      cause,
    });
    for (const insert of tick.inserts) insert.reject(error);
    for (const settlement of tick.settlements) settlement.reject(error);
    if (tick.fetches.length > 0 || tick.extensions.length > 0) this.logger.error("queue fetch failed; retrying after the poll interval", { error: error.message });
    for (const consumer of tick.fetches) consumer.deliver([], 1, null, tick.now);
  }

  private warnLostLease(settlement: Settlement): void {
    const { message, consumer } = settlement.delivery;
    this.logger.warn(`${settlement.kind} of message ${message.id} had no effect: its lease expired and it was delivered again`, {
      queue: consumer.queue,
      hint: "raise ack_timeout above the longest handler run",
    });
  }

  // In-process wake-up: consumers waiting on a queue that just got messages fetch right away.
  private notifyPublished(inserts: readonly PendingInsert[], alreadyFetched: ReadonlySet<SqliteConsumer>): void {
    let lastQueue: string | undefined;
    for (const insert of inserts) {
      if (insert.unique?.existing !== undefined) continue;
      const queueName = insert.params[1];
      if (queueName === lastQueue) continue;
      lastQueue = queueName;
      const consumers = this.consumers.get(queueName);
      if (consumers) for (const consumer of consumers) if (!alreadyFetched.has(consumer)) consumer.wake();
    }
  }

  // A retried or released message is deliverable again at `availableAt`: waiting consumers of its
  // queue wake then rather than at their next poll.
  private wakeAt(queueName: string, availableAt: number): void {
    for (const consumer of this.consumers.get(queueName) ?? []) consumer.wakeAt(availableAt);
  }

  private currentTransaction(): SqlExecutor | undefined {
    const storage = this.options.storage;
    return "database" in storage ? storage.database.currentTransaction() : undefined;
  }

  private async publishInTransaction(transaction: SqlExecutor, params: PendingInsert["params"], unique: PendingInsert["unique"]): Promise<PublishResult> {
    const [id, queueName] = params;
    try {
      if (unique) {
        const [holder] = (await transaction.query(FIND_KEY_SQL, [queueName, unique.key])) as unknown as KeyRow[];
        if (keyHeld(holder, Date.now())) return { id: holder.message_id, duplicate: true };
        await transaction.execute(HOLD_KEY_SQL, [queueName, unique.key, id, unique.heldUntil]);
      }
      await transaction.execute(INSERT_SQL, params);
    } catch (cause) {
      throw new TaskrtError(SQLITE_QUEUE_ERROR.STORAGE, `queue driver ${this.id} could not publish to queue "${queueName}" inside the open transaction on ${describeStorage(this.options.storage)}: ${errorMessage(cause)}`, {
        entryId: this.id,
        cause,
      });
    }
    this.watchCommit(queueName);
    return { id, duplicate: false };
  }

  // Settling inside the caller's transaction makes the settlement part of it (an ack commits with the
  // handler's writes), and keeps a handler that awaits its ack inside a transaction from waiting on a
  // tick that itself waits for that transaction to end.
  private settleInTransaction(transaction: SqlExecutor, settlement: Settlement): Promise<void> {
    const { delivery } = settlement;
    delivery.consumer.settled(delivery);
    return transaction.execute(SETTLEMENT_SQL[settlement.kind], settlementParams(settlement)).then(
      (result) => {
        if (result.rowsAffected === 0) this.warnLostLease(settlement);
        else if (settlement.kind === "retry" || settlement.kind === "release") this.watchCommit(delivery.consumer.queue);
      },
      (cause) => {
        throw new TaskrtError(SQLITE_QUEUE_ERROR.STORAGE, `queue driver ${this.id} could not ${settlement.kind} message ${delivery.message.id} inside the open transaction on ${describeStorage(this.options.storage)}: ${errorMessage(cause)}`, {
          entryId: this.id,
          cause,
        });
      },
    );
  }

  // A message published inside a handler's transaction becomes deliverable when that transaction's
  // batch commits; the local consumers of its queue wake then.
  private watchCommit(queueName: string): void {
    this.commitWatch.add(queueName);
  }

  private wakeWatchedQueues(): void {
    if (this.commitWatch.size === 0 || this.state !== "started") return;
    for (const queue of this.commitWatch) for (const consumer of this.consumers.get(queue) ?? []) consumer.wake();
    this.commitWatch.clear();
  }

  private requireStarted(action: string): QueueStatements {
    if (this.state !== "started" || !this.statements) throw this.notRunning(action);
    return this.statements;
  }

  private notRunning(action: string, stoppedSinceDelivery = false): TaskrtError {
    const why = stoppedSinceDelivery ? "it stopped after the delivery, which went back to the queue" : this.state === "created" ? "it is not started" : "it is stopped";
    return new TaskrtError(SQLITE_QUEUE_ERROR.STOPPED, `queue driver ${this.id} cannot ${action}: ${why}`, {
      entryId: this.id,
      hint:
        this.state === "created"
          ? `start ${this.id} first: give it lifecycle.auto_start: true, or list it in lifecycle.requires of the entry that uses it`
          : "settle deliveries before the driver stops; a stopped driver hands unsettled messages back to their queues",
    });
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
    if (Number.isInteger(priority)) return priority;
    throw new TaskrtError(SQLITE_QUEUE_ERROR.OPTIONS, `queue driver ${this.id}: priority for queue "${queueName}" must be a whole number, found ${String(priority)}`, { entryId: this.id });
  }

  private delayOf(queueName: string, delayMs: number | undefined): number {
    if (delayMs === undefined) return 0;
    if (Number.isFinite(delayMs) && delayMs >= 0) return Math.round(delayMs);
    throw new TaskrtError(SQLITE_QUEUE_ERROR.OPTIONS, `queue driver ${this.id}: delay for queue "${queueName}" must be a number of milliseconds of at least 0, found ${String(delayMs)}`, { entryId: this.id });
  }
}

/** As an operator browses it: decoded where it can be, the stored text where it cannot. */
function browsedMessage(row: BrowseRow, inFlight: boolean): BrowsedMessage {
  const message: BrowsedMessage = {
    id: row.id,
    body: parseOr(row.body, row.body),
    headers: row.headers === null ? {} : (parseOr(row.headers, {}) as Headers),
    priority: row.priority,
    attempts: row.attempts,
    publishedAt: new Date(row.created_at),
  };
  const availableAt = inFlight ? row.lease_until : row.available_at;
  if (availableAt !== null) message.availableAt = new Date(availableAt);
  if (row.progress !== null) message.progress = parseOr(row.progress, row.progress);
  if (row.last_error !== null) message.lastError = row.last_error;
  return message;
}

function parseOr(text: string, fallback: unknown): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

/** As a delivery would show it (headers with their publish timestamp), the body as stored when it is not JSON. */
function deadMessage(row: DeadRow): DeadMessage {
  let body: unknown = row.body;
  let headers: Headers = {};
  try {
    body = JSON.parse(row.body);
    if (row.headers !== null) headers = JSON.parse(row.headers);
  } catch {
    // A row buried because it could not be decoded: listed as it is stored.
  }
  if (headers.timestamp === undefined) headers.timestamp = Math.floor(row.created_at / 1000);
  return { id: row.id, body, headers, attempts: row.attempts, error: row.last_error ?? "", diedAt: new Date(row.available_at) };
}

function bodyError(driverId: string, queueName: string, reason: string, cause?: unknown): TaskrtError {
  return new TaskrtError(SQLITE_QUEUE_ERROR.INVALID_MESSAGE, `queue driver ${driverId} cannot store the message body for queue "${queueName}": ${reason}`, {
    entryId: driverId,
    hint: "publish JSON values: objects, arrays, strings, numbers, booleans or null",
    cause,
  });
}

/** SQLite's own words: the shared database's E_SQL wrapping (which names the database again) is dropped. */
function storageReason(cause: unknown): string {
  if (cause instanceof TaskrtError && cause.code.startsWith("E_SQL") && cause.cause instanceof Error) return cause.cause.message;
  return errorMessage(cause);
}

function hasKeys(object: object): boolean {
  for (const _key in object) return true;
  return false;
}
