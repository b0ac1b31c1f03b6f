/**
 * @module drivers/queue/driver — the async queue contract every driver implements, and the
 * handle a `queue.queue` entry gives publishers and consumers. Retry, backoff and dead-letter
 * policy live above the driver (in the queue entry), so every driver behaves the same.
 */

import type { BatchQueueStep } from "../sql/driver.ts";

export type HeaderValue = string | number | boolean;
export type Headers = Record<string, HeaderValue>;

export interface QueueMessage {
  id: string;
  body: unknown;
  headers: Headers;
  /** Deliveries so far, this one included (1 on the first). */
  attempts: number;
}

export interface PublishOptions {
  /** Milliseconds before the message becomes deliverable. */
  delayMs?: number;
  /** Higher is delivered first among available messages. */
  priority?: number;
}

/** A publish that is dropped when the queue already holds (or lately took) a message with its key. */
export interface UniquePublishOptions extends PublishOptions {
  /** Held while a message with it waits (ready or delayed) in the queue. */
  uniqueKey: string;
  /** Also held this long after that message was published, whatever became of it (0: only while it waits). */
  uniqueForMs?: number;
}

export interface PublishResult {
  /** The new message's id, or the id of the message that holds the key when `duplicate`. */
  id: string;
  /** True when the publish was dropped: a message with its key is waiting (or was published within the window). */
  duplicate: boolean;
}

/** One delivery of one message to a consumer. Exactly one of ack/retry/bury settles it. */
export interface Delivery {
  readonly message: QueueMessage;
  ack(): Promise<void>;
  /** Deliver again after `delayMs`; `error` is kept as the message's last error. */
  retry(delayMs: number, error: string): Promise<void>;
  /** Give up on the message: the driver keeps it as dead (or drops it, when it must say so). */
  bury(error: string): Promise<void>;
  /** Return the message unprocessed (shutdown): no attempt is counted. */
  release(): Promise<void>;
  /** Record how far the handler got (a number or a JSON object), shown to operators; drivers with the "progress" capability. */
  progress?(value: unknown): Promise<void>;
}

export interface ConsumeOptions {
  /** At most this many unsettled deliveries at once. */
  prefetch: number;
  /** Each: at most `limit` deliveries per `perMs` window, counted under its `key` by every consumer (and process) sharing it. Drivers with the "rate" capability. */
  rates?: readonly RateLimit[];
}

/** Fixed windows of `perMs`, aligned to the epoch so every process agrees where one ends (BullMQ's limiter). */
export interface RateLimit {
  limit: number;
  perMs: number;
  /** Consumers naming the same key share one budget: the queue's name for a queue-wide limit, a consumer's id for its own. */
  key: string;
}

export interface Subscription {
  /** Stop delivering; deliveries already handed out stay with the consumer. */
  cancel(): Promise<void>;
}

export interface QueueStats {
  ready: number;
  inFlight: number;
  delayed: number;
  dead: number;
}

/** A message a driver keeps as dead: it used up its attempts (or was buried). */
export interface DeadMessage {
  id: string;
  body: unknown;
  headers: Headers;
  /** Deliveries it had before it died. */
  attempts: number;
  /** Why its last delivery failed. */
  error: string;
  diedAt: Date;
}

export interface DeadLetterPage {
  /** Newest first. */
  messages: DeadMessage[];
  /** Dead messages of the queue in all. */
  total: number;
}

/**
 * What a driver that keeps dead messages where it can find them again offers the dashboard:
 * list them, put one back (with a fresh count of attempts), or drop one. Optional: a broker that
 * can only hand messages out in order (RabbitMQ) does not offer it.
 */
export interface DeadLetterStore {
  listDead(queueName: string, page: { limit: number; offset: number }): Promise<DeadLetterPage>;
  /** Ready again at once, attempts back to 0; false when the queue keeps no dead message with this id. */
  retryDead(queueName: string, id: string): Promise<boolean>;
  /** Deleted for good; false when the queue keeps no dead message with this id. */
  discardDead(queueName: string, id: string): Promise<boolean>;
}

export function isDeadLetterStore(driver: object): driver is DeadLetterStore {
  const store = driver as Partial<DeadLetterStore>;
  return typeof store.listDead === "function" && typeof store.retryDead === "function" && typeof store.discardDead === "function";
}

/**
 * What a driver may offer beyond publish and consume. A driver that lacks one says why in
 * `unsupported` (RabbitMQ does), and every caller refuses with that reason.
 */
export const QUEUE_CAPABILITIES = ["pause", "unique", "progress", "browse", "purge", "retention", "rate"] as const;
export type QueueCapability = (typeof QUEUE_CAPABILITIES)[number];

/** Pause state kept in the driver's storage: every process sharing the queue stops taking its messages; publishes are still accepted. */
export interface PausableQueues {
  pause(queueName: string): Promise<void>;
  resume(queueName: string): Promise<void>;
  isPaused(queueName: string): Promise<boolean>;
}

export interface UniquePublisher {
  publishUnique(queueName: string, body: unknown, headers: Headers, options: UniquePublishOptions): Promise<PublishResult>;
}

export type BrowseState = "waiting" | "delayed";

export interface BrowseQuery {
  state: BrowseState;
  /** By publish time. */
  order: "newest" | "oldest";
  limit: number;
  offset: number;
}

/** A message still in the queue, as an operator browses it. */
export interface BrowsedMessage {
  id: string;
  body: unknown;
  headers: Headers;
  priority: number;
  /** Deliveries so far (the current one included when in flight). */
  attempts: number;
  publishedAt: Date;
  /** When it becomes deliverable (delayed), or when its lease runs out (in flight, on drivers with leases). */
  availableAt?: Date;
  /** The last value its handler reported, when any. */
  progress?: unknown;
  /** Why its last delivery failed, when it failed before. */
  lastError?: string;
}

export interface MessagePage<T> {
  messages: T[];
  total: number;
}

/** Look at the messages waiting, delayed or in flight; run a waiting or delayed one now, or remove it. */
export interface MessageBrowser {
  browse(queueName: string, query: BrowseQuery): Promise<MessagePage<BrowsedMessage>>;
  /** Deliverable at once, ahead of its priority's queue line; false when no waiting or delayed message has this id. */
  promote(queueName: string, id: string): Promise<boolean>;
  /** Deleted unprocessed; false when no waiting or delayed message has this id. */
  remove(queueName: string, id: string): Promise<boolean>;
}

/** Drop every waiting and delayed message (in-flight and dead ones stay). */
/** Handlers report progress on their deliveries (`Delivery.progress`); operators list what is in flight with it. */
export interface ProgressReports {
  /** Messages handed out and not yet settled, the longest-running first. */
  listInFlight(queueName: string, page: { limit: number; offset: number }): Promise<MessagePage<BrowsedMessage>>;
}

export interface PurgeableQueues {
  purge(queueName: string): Promise<number>;
}

export interface RetentionPolicy {
  /** Dead messages older than this are deleted. */
  maxAgeMs?: number;
  /** Only the newest this many dead messages are kept. */
  maxCount?: number;
}

/** Kept dead letters (a dead-letter store) pruned by age and count. */
export interface RetentionStore extends DeadLetterStore {
  /** Deletes the dead messages the policy no longer keeps; resolves to how many. */
  pruneDead(queueName: string, policy: RetentionPolicy): Promise<number>;
  /** Prune the queue's dead messages by the policy in the background: at start, then every minute while running. */
  retain(queueName: string, policy: RetentionPolicy): void;
}

export interface CapabilityMethods {
  pause: PausableQueues;
  unique: UniquePublisher;
  progress: ProgressReports;
  browse: MessageBrowser;
  purge: PurgeableQueues;
  retention: RetentionStore;
  rate: { readonly rateLimits: true };
}

const CAPABILITY_PROBES: { [C in QueueCapability]: readonly string[] } = {
  pause: ["pause", "resume", "isPaused"],
  unique: ["publishUnique"],
  progress: ["listInFlight"],
  browse: ["browse", "promote", "remove"],
  purge: ["purge"],
  retention: ["pruneDead", "retain", "listDead"],
  rate: ["rateLimits"],
};

/** Does the driver offer the capability? Decided by the methods (or flags) it has. */
export function hasCapability<C extends QueueCapability>(driver: object, capability: C): driver is CapabilityMethods[C] {
  const record = driver as Record<string, unknown>;
  return CAPABILITY_PROBES[capability].every((name) => record[name] !== undefined && record[name] !== false);
}

export interface QueueDriver {
  /** Why the driver cannot offer a capability, for the refusal every caller gives. */
  readonly unsupported?: Partial<Record<QueueCapability | "dead_letters", string>>;
  readonly id: string;
  /** Keeps messages across restarts. The memory driver says no, and says so at start. */
  readonly durable: boolean;
  declare(queueName: string): Promise<void>;
  publish(queueName: string, body: unknown, headers: Headers, options?: PublishOptions): Promise<string>;
  consume(queueName: string, options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Subscription>;
  stats(queueName: string): Promise<QueueStats>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Whether the driver keeps its messages in the SQL database `databaseId` (so a publish inside that database's transaction joins it). */
  storesIn?(databaseId: string): boolean;
  /** See QueueHandle.batchStep. */
  batchStep?(queueName: string, body: unknown, headers: Headers, options: PublishOptions | UniquePublishOptions | undefined, unique: boolean): BatchQueueStep;
}

/** A message made ready inside a database transaction, to be admitted once that transaction committed. */
export interface PreparedPublish {
  readonly id: string;
  /** Puts the message in the queue; called once, after the commit. Waits for room, never drops it. */
  admit(): Promise<void>;
  /** Called instead of `admit` when the transaction rolled back: frees what preparing reserved. */
  discard(): void;
}

/**
 * A unique publish made ready inside a database transaction. Its key is reserved at once, so any
 * publish with the same key from then on (in this transaction or another) is a duplicate naming
 * this message's id, as it would be after the commit. A rollback frees the key: a duplicate
 * answered meanwhile named a message that never enters the queue. When `duplicate`, nothing was
 * prepared: `id` is the key holder's, and `admit` and `discard` do nothing.
 */
export interface PreparedUniquePublish extends PreparedPublish {
  readonly duplicate: boolean;
}

/**
 * A driver whose queues live in this process and make room only as its local consumers settle
 * (the memory driver). Waiting for that room inside a database transaction would hold the commit
 * those consumers' writes wait for, so a publish inside a transaction is prepared there (checked,
 * copied, given its id) and admitted after the commit, where it may wait without holding anything.
 */
export interface AfterCommitPublisher {
  preparePublish(queueName: string, body: unknown, headers: Headers, options?: PublishOptions): PreparedPublish;
  /** The same for a unique publish (drivers with "unique"): the key is reserved at once, the message admitted after the commit. */
  prepareUniquePublish?(queueName: string, body: unknown, headers: Headers, options: UniquePublishOptions): PreparedUniquePublish;
}

export function publishesAfterCommit(driver: object): driver is AfterCommitPublisher {
  return typeof (driver as Partial<AfterCommitPublisher>).preparePublish === "function";
}

/** What a `queue.queue` entry offers: publish with its defaults, and the retry policy consumers apply. */
export interface QueueHandle {
  readonly id: string;
  publish(body: unknown, headers?: Headers, options?: PublishOptions): Promise<string>;
  /**
   * For a publish inside a database transaction: the message prepared for admission after the
   * commit when the driver admits that way (see AfterCommitPublisher); undefined when the driver
   * publishes at once (the SQLite queue joins the transaction itself; a broker takes it now).
   */
  preparePublish?(body: unknown, headers?: Headers, options?: PublishOptions): Promise<PreparedPublish | undefined>;
  /**
   * For a unique publish inside a database transaction, as `preparePublish`: the key reserved now,
   * the message admitted after the commit (see PreparedUniquePublish); undefined when the driver
   * publishes at once. Refused (E_QUEUE_UNSUPPORTED) by a driver without "unique".
   */
  prepareUniquePublish?(body: unknown, headers: Headers, options: UniquePublishOptions): Promise<PreparedUniquePublish | undefined>;
  /** Whether the queue's driver keeps its messages in the SQL database `databaseId`. */
  storesIn?(databaseId: string): boolean;
  /**
   * The publish as a step of a batch on the database the driver stores in, where the driver offers
   * that (a driver living in a writer thread); undefined otherwise.
   */
  batchStep?(body: unknown, headers: Headers, options: PublishOptions | UniquePublishOptions | undefined, unique: boolean): Promise<BatchQueueStep | undefined>;
  /** Dropped, and said so, while the queue holds the key. Refused (E_QUEUE_UNSUPPORTED) by a driver without "unique". */
  publishUnique(body: unknown, headers: Headers, options: UniquePublishOptions): Promise<PublishResult>;
  consume(options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Subscription>;
  /** A failed delivery: retry with backoff, or dead-letter after `max_attempts`. */
  fail(delivery: Delivery, error: string): Promise<void>;
  stats(): Promise<QueueStats>;
  /** The driver's dead messages of this queue, when the driver can list them; undefined otherwise. */
  deadLetters(): BoundDeadLetters | undefined;
  /** Consumers (in every process) stop taking messages; publishes are still accepted. Refused (E_QUEUE_UNSUPPORTED) by a driver without "pause". */
  pause(): Promise<void>;
  resume(): Promise<void>;
  isPaused(): Promise<boolean>;
  /** Waiting or delayed messages, paged; promote one (run it next) or remove one. Refused by a driver without "browse". */
  browse(query: BrowseQuery): Promise<MessagePage<BrowsedMessage>>;
  promote(id: string): Promise<boolean>;
  remove(id: string): Promise<boolean>;
  /** Drops every waiting and delayed message; resolves to how many. Refused by a driver without "purge". */
  purge(): Promise<number>;
  /** The messages in flight with their handlers' progress. Refused by a driver without "progress". */
  listInFlight(page: { limit: number; offset: number }): Promise<MessagePage<BrowsedMessage>>;
  /** Why the driver cannot offer the capability, or undefined when it can. */
  refusal(capability: QueueCapability | "dead_letters"): string | undefined;
}

/** A `DeadLetterStore` bound to one queue. */
export interface BoundDeadLetters {
  list(page: { limit: number; offset: number }): Promise<DeadLetterPage>;
  retry(id: string): Promise<boolean>;
  discard(id: string): Promise<boolean>;
}
