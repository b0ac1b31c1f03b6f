/**
 * @module drivers/queue/driver — the async queue contract every driver implements, and the
 * handle a `queue.queue` entry gives publishers and consumers. Retry, backoff and dead-letter
 * policy live above the driver (in the queue entry), so every driver behaves the same.
 */

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
}

export interface ConsumeOptions {
  /** At most this many unsettled deliveries at once. */
  prefetch: number;
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

export interface QueueDriver {
  readonly id: string;
  /** Keeps messages across restarts. The memory driver says no, and says so at start. */
  readonly durable: boolean;
  declare(queueName: string): Promise<void>;
  publish(queueName: string, body: unknown, headers: Headers, options?: PublishOptions): Promise<string>;
  consume(queueName: string, options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Subscription>;
  stats(queueName: string): Promise<QueueStats>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A message made ready inside a database transaction, to be admitted once that transaction committed. */
export interface PreparedPublish {
  readonly id: string;
  /** Puts the message in the queue; called once, after the commit. Waits for room, never drops it. */
  admit(): Promise<void>;
}

/**
 * A driver whose queues live in this process and make room only as its local consumers settle
 * (the memory driver). Waiting for that room inside a database transaction would hold the commit
 * those consumers' writes wait for, so a publish inside a transaction is prepared there (checked,
 * copied, given its id) and admitted after the commit, where it may wait without holding anything.
 */
export interface AfterCommitPublisher {
  preparePublish(queueName: string, body: unknown, headers: Headers, options?: PublishOptions): PreparedPublish;
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
  consume(options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Subscription>;
  /** A failed delivery: retry with backoff, or dead-letter after `max_attempts`. */
  fail(delivery: Delivery, error: string): Promise<void>;
  stats(): Promise<QueueStats>;
  /** The driver's dead messages of this queue, when the driver can list them; undefined otherwise. */
  deadLetters(): BoundDeadLetters | undefined;
}

/** A `DeadLetterStore` bound to one queue. */
export interface BoundDeadLetters {
  list(page: { limit: number; offset: number }): Promise<DeadLetterPage>;
  retry(id: string): Promise<boolean>;
  discard(id: string): Promise<boolean>;
}
