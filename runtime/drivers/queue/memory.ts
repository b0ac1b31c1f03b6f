/**
 * @module drivers/queue/memory — the in-process queue driver: a bounded buffer per queue with
 * publisher backpressure, delayed and prioritised messages and prefetch-bounded consumers. Not
 * durable: whatever it holds is lost when the process exits or the driver stops.
 *
 * Lifecycle: CREATED → start → RUNNING → stop → STOPPED → start → RUNNING …
 * - Publishing and consuming work from creation (there is nothing to open), so a queue used before
 *   the supervisor reaches the driver still works.
 * - `stop()` drops every message (ready, delayed, in flight, dead), rejects waiting publishers and
 *   ends subscriptions; deliveries handed out before it settle as no-ops. Queue declarations stay,
 *   so a restarted driver serves the same queues (their `queue.queue` entries declared them once).
 *
 * Bound: `max_length` counts ready plus delayed messages from publishers; `publish` waits while the
 * queue holds that many. Retries and releases always re-enter, even over the bound: a failing
 * message is never dropped because the queue is busy (Wippy loses it then). A dead message put
 * back by `retryDead` re-enters the same way: it was admitted once already. A publish inside a
 * database transaction is admitted after the commit (`preparePublish`, `prepareUniquePublish`), so it
 * never waits for room while holding the commit the consumers' writes need; a unique one reserves
 * its key at once and frees it if the transaction rolls back.
 */
import { randomUUID } from "node:crypto";
import { TaskrtError, errorMessage } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import { Deque, ReadyBuffer } from "../../queue/ready-buffer.ts";
import { setLongTimeout, type LongTimer } from "../../timers.ts";
import type {
  AfterCommitPublisher,
  ConsumeOptions,
  DeadLetterPage,
  DeadLetterStore,
  DeadMessage,
  Delivery,
  Headers,
  PreparedPublish,
  PreparedUniquePublish,
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
  QueueMessage,
  QueueStats,
  RateLimit,
  Subscription,
  UniquePublishOptions,
  UniquePublisher,
} from "./driver.ts";
import { uniqueKeyOf } from "./unique-key.ts";
import { progressJson } from "./progress-value.ts";
import { RetentionSchedule } from "./retention.ts";
import { RateWindows, checkRates } from "./rate-limit.ts";

export const MEMORY_DRIVER_STATES = { CREATED: "created", RUNNING: "running", STOPPED: "stopped" } as const;
type DriverState = (typeof MEMORY_DRIVER_STATES)[keyof typeof MEMORY_DRIVER_STATES];

/** Dead messages kept per queue; older ones are dropped so a poison stream cannot fill memory. */
export const DEAD_MESSAGES_KEPT = 1000;

export interface MemoryQueueDriverOptions {
  /** The driver entry's id, for log lines and errors. */
  id: string;
  /** Messages held per queue unless the queue's `driver_options.memory.max_length` says otherwise. */
  maxLength: number;
  /**
   * How long a publish waits for room before failing with E_QUEUE_FULL; 0 waits as long as it
   * takes. A message whose transaction committed is not failed then but admitted over the bound.
   */
  publishTimeoutMs?: number;
  logger: Logger;
}

/** A buried message, kept for inspection; its priority and publish time are what a retry puts it back with. */
interface DeadEntry extends DeadMessage {
  priority: number;
  publishedAt: number;
}

interface StoredMessage {
  id: string;
  body: unknown;
  /** Owned by the driver: deliveries get a copy. */
  headers: Headers;
  /** Counted attempts that failed; a delivery reports this plus one. */
  failures: number;
  priority: number;
  publishedAt: number;
  /** Publish order, for browsing (the buffer holds messages in delivery order). */
  sequence: number;
  /** The last progress its handler reported in this delivery (JSON text). */
  progress?: string;
  /**
   * Where it is: a waiting message (buffered, delayed, with a publisher waiting for room, or
   * prepared in a transaction not yet committed) holds its deduplication key.
   */
  place?: "waiting" | "in_flight" | "gone";
}

interface HeldKey {
  stored: StoredMessage;
  heldUntil: number;
}

interface ConsumerState {
  prefetch: number;
  unsettled: number;
  onDelivery: (delivery: Delivery) => void;
  rates: readonly RateLimit[];
}

interface WaitingPublish {
  stored: StoredMessage;
  delayMs: number;
  resolve(id: string): void;
  reject(error: Error): void;
  /** Set when the publish gave up waiting; the pump skips it. */
  timedOut?: boolean;
  timer?: NodeJS.Timeout;
}

interface QueueState {
  name: string;
  maxLength: number;
  ready: ReadyBuffer<StoredMessage>;
  /** Delayed messages by their timer, with when they become deliverable. */
  delayed: Map<LongTimer, { stored: StoredMessage; availableAt: number }>;
  inFlight: number;
  /** The messages handed out and not settled, in the order they were handed out. */
  handedOut: Set<StoredMessage>;
  /** Oldest first. */
  dead: DeadEntry[];
  consumers: ConsumerState[];
  /** Round-robin position, so competing consumers share the work. */
  nextConsumer: number;
  waiters: Deque<WaitingPublish>;
  pumpScheduled: boolean;
  /** Consumers get nothing while set; publishes are still admitted (up to max_length). */
  paused: boolean;
  /** A committed transaction's message entered over max_length (said once per queue). */
  warnedOverBound: boolean;
  /** Set while consumers wait for a rate window to end. */
  rateTimer?: NodeJS.Timeout;
  /** Deduplication keys by key; a key whose message no longer waits and whose window passed is dropped when next asked. */
  keys: Map<string, HeldKey>;
}

type Outcome = "ack" | "retry" | "bury" | "release";

export class MemoryQueueDriver implements QueueDriver, DeadLetterStore, AfterCommitPublisher, PausableQueues, UniquePublisher, ProgressReports, PurgeableQueues, RetentionStore, MessageBrowser {
  readonly id: string;
  readonly durable = false;
  private readonly defaultMaxLength: number;
  private readonly logger: Logger;
  private readonly queues = new Map<string, QueueState>();
  private state: DriverState = MEMORY_DRIVER_STATES.CREATED;
  /** Bumped by stop(): deliveries from an earlier generation refer to dropped messages. */
  private generation = 0;
  private warned = false;

  private readonly publishTimeoutMs: number;
  private readonly retention: RetentionSchedule;
  private readonly rateWindows = new RateWindows();
  private publishSequence = 0;
  /** Rate windows are this process's own: consumers in one process share each key's budget. */
  readonly rateLimits = true;

  constructor(options: MemoryQueueDriverOptions) {
    this.id = options.id;
    this.defaultMaxLength = options.maxLength;
    this.publishTimeoutMs = options.publishTimeoutMs ?? 0;
    this.logger = options.logger;
    this.retention = new RetentionSchedule((queueName, policy) => this.pruneDead(queueName, policy), options.logger);
  }

  async start(): Promise<void> {
    if (!this.warned) {
      this.warned = true;
      this.logger.warn("queued messages are lost on exit: the memory driver keeps them in this process only", {
        hint: "use a durable driver (queue.driver.sqlite) where a message must survive a restart",
      });
    }
    this.state = MEMORY_DRIVER_STATES.RUNNING;
    await this.retention.start();
  }

  async stop(): Promise<void> {
    this.state = MEMORY_DRIVER_STATES.STOPPED;
    this.retention.stop();
    this.generation++;
    let lost = 0;
    for (const queue of this.queues.values()) {
      lost += queue.ready.size + queue.delayed.size + queue.inFlight;
      for (const timer of queue.delayed.keys()) timer.clear();
      queue.delayed.clear();
      queue.ready.clear();
      queue.inFlight = 0;
      queue.handedOut.clear();
      queue.dead = [];
      queue.keys.clear();
      clearTimeout(queue.rateTimer);
      queue.rateTimer = undefined;
      queue.consumers = [];
      for (let waiter = queue.waiters.shift(); waiter; waiter = queue.waiters.shift()) {
        if (waiter.timedOut) continue;
        clearTimeout(waiter.timer);
        waiter.reject(this.stoppedError(queue.name));
      }
    }
    if (lost > 0) this.logger.warn(`stopped with ${lost} message${lost === 1 ? "" : "s"} not yet processed; they are lost`);
  }

  /**
   * Declares (or re-declares) a queue. `options` is the queue entry's `driver_options.memory`;
   * re-declaring replaces the bound and keeps the messages, as Wippy does.
   */
  async declare(queueName: string, options?: Record<string, unknown>): Promise<void> {
    const maxLength = this.maxLengthFrom(queueName, options);
    const existing = this.queues.get(queueName);
    if (existing) {
      existing.maxLength = maxLength;
      this.schedulePump(existing);
      return;
    }
    this.queues.set(queueName, {
      name: queueName,
      maxLength,
      ready: new ReadyBuffer<StoredMessage>(),
      delayed: new Map(),
      inFlight: 0,
      handedOut: new Set(),
      dead: [],
      consumers: [],
      nextConsumer: 0,
      waiters: new Deque<WaitingPublish>(),
      pumpScheduled: false,
      paused: false,
      warnedOverBound: false,
      keys: new Map(),
    });
  }

  /** Resolves once the message is buffered; waits while the queue is full. */
  async publish(queueName: string, body: unknown, headers: Headers, options: PublishOptions = {}): Promise<string> {
    const queue = this.usableQueue(queueName);
    return this.enqueue(queue, this.newMessage(body, headers, options), options);
  }

  /** Dropped (and said so) while a message with the key waits, or within `uniqueForMs` of its publish. */
  async publishUnique(queueName: string, body: unknown, headers: Headers, options: UniquePublishOptions): Promise<PublishResult> {
    const queue = this.usableQueue(queueName);
    const key = uniqueKeyOf(this.id, queueName, options);
    const holder = keyHolder(queue, key);
    if (holder) return { id: holder.id, duplicate: true };
    const stored = this.newMessage(body, headers, options);
    holdKey(queue, key, stored, options);
    try {
      return { id: await this.enqueue(queue, stored, options), duplicate: false };
    } catch (error) {
      releaseKey(queue, key, stored);
      throw error;
    }
  }

  /**
   * A unique publish inside a database transaction: the key is reserved now (a publish with it from
   * now on, in any transaction, is a duplicate naming this message), the message admitted after the
   * commit as `preparePublish`'s is, and a rollback frees the key and admits nothing. The
   * `uniqueForMs` window runs from this call, as it runs from a plain publish's.
   */
  prepareUniquePublish(queueName: string, body: unknown, headers: Headers, options: UniquePublishOptions): PreparedUniquePublish {
    const queue = this.usableQueue(queueName);
    const key = uniqueKeyOf(this.id, queueName, options);
    const holder = keyHolder(queue, key);
    if (holder) return { id: holder.id, duplicate: true, admit: () => Promise.resolve(), discard: () => {} };
    const stored = this.newMessage(body, headers, options);
    holdKey(queue, key, stored, options);
    const delayMs = options.delayMs ?? 0;
    return {
      id: stored.id,
      duplicate: false,
      admit: () =>
        this.admitCommitted(queueName, stored, delayMs).catch((error: unknown) => {
          releaseKey(queue, key, stored);
          throw error;
        }),
      discard: () => {
        stored.place = "gone";
        releaseKey(queue, key, stored);
      },
    };
  }

  private newMessage(body: unknown, headers: Headers, options: PublishOptions): StoredMessage {
    return {
      id: randomUUID(),
      body: copyBody(body),
      headers: withTimestamp(headers),
      failures: 0,
      priority: options.priority ?? 0,
      publishedAt: Date.now(),
      sequence: ++this.publishSequence,
      place: "waiting",
    };
  }

  private enqueue(queue: QueueState, stored: StoredMessage, options: PublishOptions): Promise<string> | string {
    const delayMs = options.delayMs ?? 0;
    if (hasRoomNow(queue)) {
      this.admit(queue, stored, delayMs);
      return stored.id;
    }
    return new Promise<string>((resolve, reject) => {
      const waiter: WaitingPublish = { stored, delayMs, resolve, reject };
      if (this.publishTimeoutMs > 0) {
        waiter.timer = setTimeout(() => {
          waiter.timedOut = true;
          stored.place = "gone";
          reject(
            new TaskrtError("E_QUEUE_FULL", `queue "${queue.name}" on ${this.id} stayed full for ${this.publishTimeoutMs}ms; the message was not published`, {
              entryId: this.id,
              hint: "consumers are not keeping up: retry later, or raise max_length, publish_timeout or the consumers' concurrency",
            }),
          );
        }, this.publishTimeoutMs);
      }
      queue.waiters.push(waiter);
    });
  }

  /**
   * A publish inside a database transaction: checked and copied now, admitted by `admit()` once the
   * transaction committed. So a transaction never waits for room while it holds the commit that
   * the consumers' own writes wait for (which was a deadlock), and no consumer gets a message whose
   * transaction may still roll back.
   */
  preparePublish(queueName: string, body: unknown, headers: Headers, options: PublishOptions = {}): PreparedPublish {
    this.usableQueue(queueName);
    const stored = this.newMessage(body, headers, options);
    const delayMs = options.delayMs ?? 0;
    return {
      id: stored.id,
      admit: () => this.admitCommitted(queueName, stored, delayMs),
      discard: () => {
        stored.place = "gone"; // it holds no key: nothing else to free
      },
    };
  }

  /**
   * Its transaction committed, so the message is never dropped for want of room: it waits its turn
   * behind earlier publishers for up to `publish_timeout` (0: as long as it takes), then enters
   * over the bound.
   */
  private admitCommitted(queueName: string, stored: StoredMessage, delayMs: number): Promise<void> {
    let queue: QueueState;
    try {
      queue = this.usableQueue(queueName);
    } catch (error) {
      return Promise.reject(error);
    }
    if (hasRoomNow(queue)) {
      this.admit(queue, stored, delayMs);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: WaitingPublish = { stored, delayMs, resolve: () => resolve(), reject };
      if (this.publishTimeoutMs > 0) {
        waiter.timer = setTimeout(() => {
          waiter.timedOut = true;
          if (!queue.warnedOverBound) {
            queue.warnedOverBound = true;
            this.logger.warn(`queue '${queueName}' stayed full for ${this.publishTimeoutMs}ms: a message whose transaction committed entered over max_length`, {
              hint: "consumers are not keeping up: raise max_length or the consumers' concurrency",
            });
          }
          this.admit(queue, stored, delayMs);
          resolve();
        }, this.publishTimeoutMs);
      }
      queue.waiters.push(waiter);
    });
  }

  async consume(queueName: string, options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Subscription> {
    const queue = this.usableQueue(queueName);
    if (!Number.isInteger(options.prefetch) || options.prefetch < 1) {
      throw new TaskrtError("E_QUEUE_PREFETCH", `prefetch must be a positive integer, got ${String(options.prefetch)}`, {
        entryId: this.id,
      });
    }
    const consumer: ConsumerState = { prefetch: options.prefetch, unsettled: 0, onDelivery, rates: checkRates(this.id, queueName, options.rates) };
    queue.consumers.push(consumer);
    this.schedulePump(queue);
    return {
      cancel: async () => {
        const index = queue.consumers.indexOf(consumer);
        if (index >= 0) queue.consumers.splice(index, 1);
      },
    };
  }

  async stats(queueName: string): Promise<QueueStats> {
    const queue = this.declaredQueue(queueName);
    return { ready: queue.ready.size, inFlight: queue.inFlight, delayed: queue.delayed.size, dead: queue.dead.length };
  }

  /** The last buried messages of a queue, oldest first (at most DEAD_MESSAGES_KEPT). */
  deadMessages(queueName: string): readonly DeadMessage[] {
    return this.declaredQueue(queueName).dead;
  }

  async listDead(queueName: string, page: { limit: number; offset: number }): Promise<DeadLetterPage> {
    const { dead } = this.declaredQueue(queueName);
    const messages: DeadMessage[] = [];
    for (let index = dead.length - 1 - page.offset; index >= 0 && messages.length < page.limit; index--) {
      const { id, body, headers, attempts, error, diedAt } = dead[index];
      messages.push({ id, body: copyBody(body), headers: { ...headers }, attempts, error, diedAt: new Date(diedAt) });
    }
    return { messages, total: dead.length };
  }

  /** Ready at once, ahead of waiting publishers and over max_length: it was admitted once already. */
  async retryDead(queueName: string, id: string): Promise<boolean> {
    const queue = this.usableQueue(queueName);
    const index = queue.dead.findIndex((message) => message.id === id);
    if (index < 0) return false;
    const [dead] = queue.dead.splice(index, 1);
    // As a retry: the next delivery sees why the last one failed.
    const headers: Headers = { ...dead.headers, x_last_error: dead.error };
    this.admit(queue, { id: dead.id, body: dead.body, headers, failures: 0, priority: dead.priority, publishedAt: dead.publishedAt, sequence: ++this.publishSequence, place: "waiting" }, 0);
    return true;
  }

  async discardDead(queueName: string, id: string): Promise<boolean> {
    const { dead } = this.declaredQueue(queueName);
    const index = dead.findIndex((message) => message.id === id);
    if (index < 0) return false;
    dead.splice(index, 1);
    return true;
  }

  async listInFlight(queueName: string, page: { limit: number; offset: number }): Promise<MessagePage<BrowsedMessage>> {
    const { handedOut } = this.declaredQueue(queueName);
    const messages = [...handedOut].slice(page.offset, page.offset + page.limit).map((stored) => browsed(stored));
    return { messages, total: handedOut.size };
  }

  /** Called by a delivery: remembered until the delivery is settled. */
  reportProgress(delivery: MemoryDelivery, value: unknown): void {
    if (delivery.settled) {
      throw new TaskrtError("E_ALREADY_SETTLED", `message ${delivery.message.id} is already settled; progress refused`, {
        entryId: this.id,
        hint: "report progress while the handler works, before it returns or settles the message",
      });
    }
    const text = progressJson(value);
    if (delivery.generation === this.generation) delivery.stored.progress = text;
  }

  async pruneDead(queueName: string, policy: RetentionPolicy): Promise<number> {
    const queue = this.declaredQueue(queueName);
    const before = queue.dead.length;
    const diedAfter = policy.maxAgeMs === undefined ? -Infinity : Date.now() - policy.maxAgeMs;
    let kept = queue.dead.filter((message) => message.diedAt.getTime() >= diedAfter);
    if (policy.maxCount !== undefined && kept.length > policy.maxCount) kept = kept.slice(kept.length - policy.maxCount);
    queue.dead = kept;
    return before - kept.length;
  }

  retain(queueName: string, policy: RetentionPolicy): void {
    this.retention.set(queueName, policy);
  }

  async browse(queueName: string, query: BrowseQuery): Promise<MessagePage<BrowsedMessage>> {
    const queue = this.declaredQueue(queueName);
    const found =
      query.state === "waiting"
        ? [...queue.ready.values()].map((stored) => ({ stored, availableAt: undefined as number | undefined }))
        : [...queue.delayed.values()].map(({ stored, availableAt }) => ({ stored, availableAt: availableAt as number | undefined }));
    // By publish order (the buffer holds them in delivery order, priorities first).
    found.sort((left, right) => left.stored.sequence - right.stored.sequence);
    if (query.order === "newest") found.reverse();
    const messages = found.slice(query.offset, query.offset + query.limit).map(({ stored, availableAt }) => {
      const message = browsed(stored);
      if (availableAt !== undefined) message.availableAt = new Date(availableAt);
      return message;
    });
    return { messages, total: found.length };
  }

  /** Deliverable at once, at the front of its priority. */
  async promote(queueName: string, id: string): Promise<boolean> {
    const queue = this.usableQueue(queueName);
    const stored = this.takeWaiting(queue, id);
    if (!stored) return false;
    queue.ready.unshift(stored.priority, stored);
    this.schedulePump(queue);
    return true;
  }

  async remove(queueName: string, id: string): Promise<boolean> {
    const queue = this.usableQueue(queueName);
    const stored = this.takeWaiting(queue, id);
    if (!stored) return false;
    stored.place = "gone";
    this.schedulePump(queue); // room for a publisher waiting at max_length
    return true;
  }

  /** Out of the ready buffer or the delayed timers, whichever holds it. */
  private takeWaiting(queue: QueueState, id: string): StoredMessage | undefined {
    const ready = queue.ready.removeFirst((stored) => stored.id === id);
    if (ready) return ready;
    for (const [timer, { stored }] of queue.delayed) {
      if (stored.id !== id) continue;
      timer.clear();
      queue.delayed.delete(timer);
      return stored;
    }
    return undefined;
  }

  /** Drops every waiting and delayed message; those in flight and dead stay. */
  async purge(queueName: string): Promise<number> {
    const queue = this.usableQueue(queueName);
    const purged = queue.ready.size + queue.delayed.size;
    for (const stored of queue.ready.values()) stored.place = "gone";
    for (const [timer, { stored }] of queue.delayed) {
      timer.clear();
      stored.place = "gone";
    }
    queue.ready.clear();
    queue.delayed.clear();
    this.schedulePump(queue); // room for publishers waiting at max_length
    return purged;
  }

  /** Kept for as long as the process lives, like the messages. */
  async pause(queueName: string): Promise<void> {
    this.declaredQueue(queueName).paused = true;
  }

  async resume(queueName: string): Promise<void> {
    const queue = this.declaredQueue(queueName);
    queue.paused = false;
    this.schedulePump(queue);
  }

  async isPaused(queueName: string): Promise<boolean> {
    return this.declaredQueue(queueName).paused;
  }

  describe(): string {
    let ready = 0;
    for (const queue of this.queues.values()) ready += queue.ready.size;
    return `in memory, not durable: ${this.queues.size} queue${this.queues.size === 1 ? "" : "s"}, ${ready} ready`;
  }

  /** Called by a delivery (not for other callers); throws when it was settled already. */
  settle(delivery: MemoryDelivery, outcome: Outcome, delayMs = 0, error = ""): void {
    if (delivery.settled) {
      throw new TaskrtError("E_ALREADY_SETTLED", "message already settled", {
        entryId: this.id,
        hint: "settle each delivery once: ack, retry, bury or release",
      });
    }
    delivery.settled = true;
    if (delivery.generation !== this.generation) return; // the driver stopped since: the message is gone
    const { queue, consumer, stored } = delivery;
    consumer.unsettled--;
    queue.inFlight--;
    queue.handedOut.delete(stored);
    stored.progress = undefined;
    stored.place = outcome === "retry" || outcome === "release" ? "waiting" : "gone";
    switch (outcome) {
      case "ack":
        break;
      case "retry":
        stored.failures++;
        stored.headers.x_last_error = error;
        this.admit(queue, stored, delayMs);
        break;
      case "bury":
        queue.dead.push({
          id: stored.id,
          body: stored.body,
          headers: stored.headers,
          attempts: stored.failures + 1,
          error,
          diedAt: new Date(),
          priority: stored.priority,
          publishedAt: stored.publishedAt,
        });
        if (queue.dead.length > DEAD_MESSAGES_KEPT) queue.dead.shift();
        break;
      case "release":
        queue.ready.unshift(stored.priority, stored);
        break;
      default: {
        const unknown: never = outcome;
        throw new Error(`unknown settlement ${String(unknown)}`);
      }
    }
    this.schedulePump(queue);
  }

  private admit(queue: QueueState, stored: StoredMessage, delayMs: number): void {
    if (delayMs > 0) {
      const timer = setLongTimeout(() => {
        queue.delayed.delete(timer);
        queue.ready.push(stored.priority, stored);
        this.schedulePump(queue);
      }, delayMs);
      queue.delayed.set(timer, { stored, availableAt: Date.now() + delayMs });
      return;
    }
    queue.ready.push(stored.priority, stored);
    this.schedulePump(queue);
  }

  /** One pump per queue per tick: publishes and settlements in a burst share it. */
  private schedulePump(queue: QueueState): void {
    if (queue.pumpScheduled) return;
    queue.pumpScheduled = true;
    queueMicrotask(() => {
      queue.pumpScheduled = false;
      this.pump(queue);
    });
  }

  private pump(queue: QueueState): void {
    if (this.state === MEMORY_DRIVER_STATES.STOPPED) return;
    for (;;) {
      while (queue.ready.size > 0 && !queue.paused) {
        const consumer = this.nextConsumerWithRoom(queue);
        if (!consumer) break;
        if (consumer.rates.length > 0) this.rateWindows.count(consumer.rates, Date.now());
        this.deliver(queue, consumer, queue.ready.shift()!);
      }
      let admitted = false;
      while (queue.waiters.size > 0 && buffered(queue) < queue.maxLength) {
        const waiter = queue.waiters.shift()!;
        if (waiter.timedOut) continue;
        clearTimeout(waiter.timer);
        this.admitWithoutPump(queue, waiter);
        admitted = true;
      }
      if (!admitted) return;
    }
  }

  /** Round robin among consumers with a free slot and, when they have rates, budget left in their windows. */
  private nextConsumerWithRoom(queue: QueueState): ConsumerState | undefined {
    const count = queue.consumers.length;
    const now = Date.now();
    let limitedUntil = Infinity;
    for (let offset = 0; offset < count; offset++) {
      const index = (queue.nextConsumer + offset) % count;
      const consumer = queue.consumers[index];
      if (consumer.unsettled >= consumer.prefetch) continue;
      if (consumer.rates.length > 0) {
        const { allowed, windowEnd } = this.rateWindows.budget(consumer.rates, now);
        if (allowed === 0) {
          limitedUntil = Math.min(limitedUntil, windowEnd);
          continue;
        }
      }
      queue.nextConsumer = (index + 1) % count;
      return consumer;
    }
    // Held back by a rate: pump again when the first window ends.
    if (limitedUntil !== Infinity && queue.rateTimer === undefined) {
      queue.rateTimer = setTimeout(() => {
        queue.rateTimer = undefined;
        this.schedulePump(queue);
      }, Math.max(1, limitedUntil - now));
    }
    return undefined;
  }

  private admitWithoutPump(queue: QueueState, waiter: WaitingPublish): void {
    if (waiter.delayMs > 0) this.admit(queue, waiter.stored, waiter.delayMs);
    else queue.ready.push(waiter.stored.priority, waiter.stored);
    waiter.resolve(waiter.stored.id);
  }

  private deliver(queue: QueueState, consumer: ConsumerState, stored: StoredMessage): void {
    stored.place = "in_flight";
    queue.handedOut.add(stored);
    consumer.unsettled++;
    queue.inFlight++;
    const message: QueueMessage = {
      id: stored.id,
      body: copyBody(stored.body),
      headers: { ...stored.headers },
      attempts: stored.failures + 1,
    };
    const delivery = new MemoryDelivery(this, queue, consumer, stored, message, this.generation);
    try {
      consumer.onDelivery(delivery);
    } catch (error) {
      // The consumer owns the delivery now; a throwing callback is its bug, reported, not retried here.
      this.logger.error(`consumer of queue '${queue.name}' threw on delivery: ${errorMessage(error)}`, { messageId: stored.id });
    }
  }

  private usableQueue(queueName: string): QueueState {
    if (this.state === MEMORY_DRIVER_STATES.STOPPED) throw this.stoppedError(queueName);
    return this.declaredQueue(queueName);
  }

  private declaredQueue(queueName: string): QueueState {
    const queue = this.queues.get(queueName);
    if (!queue) {
      throw new TaskrtError("E_QUEUE_NOT_DECLARED", `queue '${queueName}' is not declared on driver ${this.id}`, {
        entryId: this.id,
        hint: "a queue.queue entry declares its queue on first use; publish through it",
      });
    }
    return queue;
  }

  private stoppedError(queueName: string): TaskrtError {
    return new TaskrtError("E_QUEUE_STOPPED", `queue driver ${this.id} is stopped: queue '${queueName}' is unavailable`, {
      entryId: this.id,
    });
  }

  private maxLengthFrom(queueName: string, options: Record<string, unknown> | undefined): number {
    const value = options?.max_length;
    if (value === undefined) return this.defaultMaxLength;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw new TaskrtError(
        "E_QUEUE_OPTIONS",
        `queue '${queueName}': driver_options.memory.max_length must be a positive integer, got ${JSON.stringify(value)}`,
        { entryId: this.id, hint: "write e.g. driver_options: { memory: { max_length: 5000 } }" },
      );
    }
    return value;
  }
}

class MemoryDelivery implements Delivery {
  settled = false;

  constructor(
    private readonly driver: MemoryQueueDriver,
    readonly queue: QueueState,
    readonly consumer: ConsumerState,
    readonly stored: StoredMessage,
    readonly message: QueueMessage,
    readonly generation: number,
  ) {}

  async ack(): Promise<void> {
    this.driver.settle(this, "ack");
  }

  async retry(delayMs: number, error: string): Promise<void> {
    this.driver.settle(this, "retry", delayMs, error);
  }

  async bury(error: string): Promise<void> {
    this.driver.settle(this, "bury", 0, error);
  }

  async release(): Promise<void> {
    this.driver.settle(this, "release");
  }

  async progress(value: unknown): Promise<void> {
    this.driver.reportProgress(this, value);
  }
}

function browsed(stored: StoredMessage): BrowsedMessage {
  const message: BrowsedMessage = {
    id: stored.id,
    body: copyBody(stored.body),
    headers: { ...stored.headers },
    priority: stored.priority,
    attempts: stored.failures + (stored.place === "in_flight" ? 1 : 0),
    publishedAt: new Date(stored.publishedAt),
  };
  if (stored.progress !== undefined) message.progress = JSON.parse(stored.progress);
  const lastError = stored.headers.x_last_error;
  if (typeof lastError === "string") message.lastError = lastError;
  return message;
}

export function createMemoryQueueDriver(options: MemoryQueueDriverOptions): MemoryQueueDriver {
  return new MemoryQueueDriver(options);
}

/** Behind earlier waiters: a publisher arriving as space frees up must not jump the line. */
function hasRoomNow(queue: QueueState): boolean {
  return queue.waiters.size === 0 && buffered(queue) < queue.maxLength;
}

function buffered(queue: QueueState): number {
  return queue.ready.size + queue.delayed.size;
}

/** The message holding `key`: one still waiting, or one published within its `uniqueForMs`. */
function keyHolder(queue: QueueState, key: string): StoredMessage | undefined {
  const held = queue.keys.get(key);
  if (held && (held.heldUntil > Date.now() || held.stored.place === "waiting")) return held.stored;
  return undefined;
}

function holdKey(queue: QueueState, key: string, stored: StoredMessage, options: UniquePublishOptions): void {
  queue.keys.set(key, { stored, heldUntil: Date.now() + Math.max(0, options.uniqueForMs ?? 0) });
}

/** Frees `key` if `stored` still holds it (a stop, or a later holder, may have replaced it). */
function releaseKey(queue: QueueState, key: string, stored: StoredMessage): void {
  if (queue.keys.get(key)?.stored === stored) queue.keys.delete(key);
}



/** As Wippy: every message carries the unix second it was published at, unless the publisher set one. */
function withTimestamp(headers: Headers): Headers {
  const copy: Headers = { ...headers };
  if (copy.timestamp === undefined) copy.timestamp = Math.floor(Date.now() / 1000);
  return copy;
}

/**
 * Publisher and handler each get their own copy: a publisher reusing its object, or a handler
 * mutating the body before failing, must not change what a retry delivers.
 */
function copyBody(body: unknown): unknown {
  const type = typeof body;
  if (body === null || type === "string" || type === "number" || type === "boolean" || type === "undefined") return body;
  // Plain objects and arrays of plain values (every JSON body) copy ten times faster by hand than
  // through structuredClone's serializer; anything else (a Date, a Map, a cycle) goes through it.
  const copied = copyPlain(body, 0);
  if (copied !== NOT_PLAIN) return copied;
  try {
    return structuredClone(body);
  } catch (error) {
    throw new TaskrtError("E_INVALID_MESSAGE", `message body cannot be copied: ${errorMessage(error)}`, {
      cause: error,
      hint: "message bodies are plain data: objects, arrays, strings, numbers, booleans and null",
    });
  }
}

const NOT_PLAIN = Symbol("not plain data");
/** Deeper than this is more likely a cycle than data: structuredClone copies it (or says why not). */
const MAX_PLAIN_DEPTH = 32;

/** A deep copy of plain data (objects of the Object prototype or none, dense arrays, primitives), or NOT_PLAIN. */
function copyPlain(value: unknown, depth: number): unknown {
  if (value === null) return null;
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
    case "undefined":
    case "bigint":
      return value;
    case "object":
      break;
    default:
      return NOT_PLAIN;
  }
  if (depth >= MAX_PLAIN_DEPTH) return NOT_PLAIN;
  if (Array.isArray(value)) {
    const copy: unknown[] = new Array(value.length);
    for (let index = 0; index < value.length; index++) {
      if (!(index in value)) return NOT_PLAIN;
      const item = copyPlain(value[index], depth + 1);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      copy[index] = item;
    }
    return copy;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return NOT_PLAIN;
  // As structuredClone: the copy is an ordinary object either way.
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    // Assigning an own "__proto__" key would set the copy's prototype instead.
    if (key === "__proto__") return NOT_PLAIN;
    const item = copyPlain((value as Record<string, unknown>)[key], depth + 1);
    if (item === NOT_PLAIN) return NOT_PLAIN;
    copy[key] = item;
  }
  return copy;
}
