/**
 * @module drivers/queue/amqp — the queue driver on RabbitMQ (AMQP 0-9-1, through amqplib): durable
 * priority queues, persistent messages, publishes that resolve on the broker's confirm, one channel
 * per consumer with its prefetch, retries and delays through delay queues, dead messages kept in
 * `<queue>.dead`.
 *
 * Per queue `q` on the broker: `q` (classic, durable, `x-max-priority` from `max_priority`), `q.dead` (buried
 * messages, with why in their headers) and `q.delay.<ms>` (see amqp-delay.ts), created on demand.
 *
 * Driver states: CREATED → start → RUNNING → stop → STOPPED → start → RUNNING …
 * - start connects within `connection_timeout` or fails with why (unreachable, login refused).
 * - RUNNING survives broker restarts: while the link is down, publishes, declares and stats fail at
 *   once with E_QUEUE_UNAVAILABLE ("queue broker <id> is unreachable: …"), consumers wait; once
 *   it is back, queues are declared again and consumers subscribe again. Messages that were
 *   delivered but not settled are delivered again by the broker.
 * - stop waits for outstanding confirms, then closes the connection: the broker returns every
 *   unsettled delivery to its queue; subscriptions end. Declarations are remembered for the next start.
 *
 * Counting (`stats`): ready and dead from the broker; in flight from this process's deliveries;
 * delayed from the delay queues this process used within their lifetime (messages another process
 * delayed for a delay this one never used are not seen).
 */
import { AMQP_UNSUPPORTED } from "./amqp-unsupported.ts";
import { randomUUID } from "node:crypto";
import type { Channel, ChannelModel, ConsumeMessage, Options, SocketOptions } from "amqplib";
import { TaskrtError, errorMessage } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import type { Component } from "../../contracts/component.ts";
import type { ConsumeOptions, Delivery, Headers, PublishOptions, QueueDriver, QueueStats, Subscription } from "./driver.ts";
import { AMQP_QUEUE_ERROR, REPLY, replyCode, unreachableError } from "./amqp-errors.ts";
import { redactPassword, type AmqpEndpoint } from "./amqp-endpoint.ts";
import { AmqpLink, LINK_STATES } from "./amqp-link.ts";
import { AmqpPublisher } from "./amqp-publisher.ts";
import { AmqpConsumer, type AmqpConsumerHost } from "./amqp-consumer.ts";
import { DelayQueues, roundDelay } from "./amqp-delay.ts";
import { checkDelay, checkPriority, queueArguments } from "./amqp-options.ts";
import { connectOptionsFor, socketOptionsFor, type AmqpTlsSettings } from "./amqp-socket.ts";
import { JSON_CONTENT_TYPE, copyProperties, encodeBody, withTimestamp } from "./amqp-message.ts";

export { AMQP_QUEUE_ERROR } from "./amqp-errors.ts";
export { MAX_DELAY_MS } from "./amqp-options.ts";
export type { AmqpTlsSettings } from "./amqp-socket.ts";

export interface AmqpQueueDriverOptions {
  /** The driver entry's id, for log lines and errors. */
  id: string;
  endpoint: AmqpEndpoint;
  connectionName: string;
  authMechanism: "PLAIN" | "AMQPLAIN" | "EXTERNAL";
  /** 0: no heartbeats. */
  heartbeatSeconds: number;
  connectTimeoutMs: number;
  reconnectDelayMs: number;
  reconnectMaxDelayMs: number;
  /** When above 0, no consumer gets a larger prefetch than this. */
  prefetchCap: number;
  /** Priority levels of every queue (0..maxPriority); 0 declares queues without priorities. */
  maxPriority: number;
  frameMax?: number;
  channelMax?: number;
  /** Set for amqps. */
  tls?: AmqpTlsSettings;
  /** Prepended to every queue name on the broker: keeps test runs (or apps sharing a vhost) apart. */
  queueNamePrefix?: string;
  logger: Logger;
}

type DriverState = "created" | "starting" | "running" | "stopping" | "stopped";

interface DeclaredQueue {
  arguments: Record<string, unknown>;
}

export class AmqpQueueDriver implements QueueDriver, Component, AmqpConsumerHost {
  readonly id: string;
  readonly durable = true;
  readonly unsupported = AMQP_UNSUPPORTED;
  readonly logger: Logger;
  readonly reconnectDelayMs: number;
  /** What the driver was built with (the kind's fields, read and resolved). */
  readonly settings: Readonly<AmqpQueueDriverOptions>;
  private state: DriverState = "created";
  private starting: Promise<void> | undefined;
  private link: AmqpLink | undefined;
  private publisher: AmqpPublisher | undefined;
  private admin: Channel | undefined;
  /** Bumped on every (re)connection: declarations cached for an earlier one are not trusted. */
  private generation = 0;
  private readonly declared = new Map<string, DeclaredQueue>();
  private readonly delayQueues = new DelayQueues();
  private readonly consumers = new Set<AmqpConsumer>();
  private readonly inFlight = new Map<string, number>();
  private readonly prefix: string;

  constructor(options: AmqpQueueDriverOptions) {
    this.id = options.id;
    this.settings = options;
    this.logger = options.logger;
    this.reconnectDelayMs = options.reconnectDelayMs;
    this.prefix = options.queueNamePrefix ?? "";
  }

  get stopped(): boolean {
    return this.state === "stopping" || this.state === "stopped";
  }

  /** `amqp 127.0.0.1:5672/ (durable)`, plus the outage when there is one. Never the credentials. */
  describe(): string {
    const { endpoint } = this.settings;
    const base = `${endpoint.protocol} ${endpoint.address} (durable)`;
    const link = this.link;
    if (this.state === "running" && link && link.state !== LINK_STATES.CONNECTED) return `${base}, reconnecting: ${link.failure}`;
    return base;
  }

  /** Connects; a second call while connecting waits for the same attempt. */
  start(): Promise<void> {
    if (this.state === "running") return Promise.resolve();
    this.starting ??= this.connect().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async connect(): Promise<void> {
    this.state = "starting";
    let socketOptions: SocketOptions;
    try {
      socketOptions = await socketOptionsFor(this.settings);
    } catch (error) {
      this.state = "stopped";
      throw error;
    }
    const link = new AmqpLink({
      driverId: this.id,
      endpoint: this.settings.endpoint,
      connectOptions: connectOptionsFor(this.settings),
      socketOptions,
      connectTimeoutMs: this.settings.connectTimeoutMs,
      reconnect: { initialMs: this.settings.reconnectDelayMs, factor: 2, maxMs: this.settings.reconnectMaxDelayMs, jitter: 0.1 },
      logger: this.logger,
      setup: (connection) => this.setup(connection),
      onLost: (reason) => this.connectionLost(reason),
      redact: (text) => this.redact(text),
    });
    this.link = link;
    try {
      await link.open();
    } catch (error) {
      this.link = undefined;
      this.state = "stopped";
      await link.close();
      throw error;
    }
    this.state = "running";
    this.logger.info(`connected to ${this.settings.endpoint.maskedUrl}`);
  }

  async stop(): Promise<void> {
    if (this.state !== "running" && this.state !== "starting") return;
    this.state = "stopping";
    for (const consumer of this.consumers) consumer.close();
    this.consumers.clear();
    await this.publisher?.flush(this.settings.connectTimeoutMs);
    this.publisher?.markClosed(`queue driver ${this.id} is stopped`);
    await this.link?.close();
    this.link = undefined;
    this.publisher = undefined;
    this.admin = undefined;
    this.inFlight.clear();
    this.state = "stopped";
  }

  /**
   * Declares the queue and its dead queue (durable; existing ones are kept). `options` is the queue
   * entry's `driver_options.amqp`: `max_length` bounds the ready messages, publishes beyond it fail.
   */
  async declare(queueName: string, options?: Record<string, unknown>): Promise<void> {
    const declared: DeclaredQueue = { arguments: queueArguments(this.id, queueName, options, this.settings.maxPriority) };
    const connection = this.requireConnection(`declare queue "${queueName}"`);
    await this.assertQueue(connection, queueName, declared);
    this.declared.set(queueName, declared);
  }

  publish(queueName: string, body: unknown, headers: Headers, options?: PublishOptions): Promise<string> {
    try {
      const publisher = this.requirePublisher(`publish to queue "${queueName}"`);
      const id = randomUUID();
      const properties = {
        messageId: id,
        contentType: JSON_CONTENT_TYPE,
        headers: withTimestamp(headers),
        priority: checkPriority(this.id, queueName, options?.priority, this.settings.maxPriority),
        persistent: true,
        mandatory: true,
      };
      const content = encodeBody(this.id, queueName, body);
      const delayMs = checkDelay(this.id, queueName, options?.delayMs);
      if (delayMs === 0) return publisher.publish(this.prefix + queueName, queueName, content, properties).then(() => id);
      return this.publishDelayed(publisher, queueName, delayMs, content, properties).then(() => id);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async consume(queueName: string, options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Subscription> {
    if (!Number.isInteger(options.prefetch) || options.prefetch < 1) {
      throw new TaskrtError(AMQP_QUEUE_ERROR.PREFETCH, `queue driver ${this.id}: prefetch for queue "${queueName}" must be a whole number of at least 1, found ${String(options.prefetch)}`, {
        entryId: this.id,
      });
    }
    if (this.state !== "running") throw this.notRunning(`consume from queue "${queueName}"`);
    const cap = this.settings.prefetchCap;
    const prefetch = cap > 0 ? Math.min(cap, options.prefetch) : options.prefetch;
    const consumer = new AmqpConsumer(this, queueName, this.prefix + queueName, prefetch, onDelivery);
    this.consumers.add(consumer);
    // While the broker is away the subscription is kept and takes effect once it is back.
    const connection = this.link?.current;
    if (connection) {
      try {
        await consumer.attach(connection);
      } catch (error) {
        this.consumers.delete(consumer);
        consumer.close();
        throw this.brokerError(`subscribe to queue "${queueName}"`, queueName, error);
      }
    }
    return {
      cancel: async () => {
        this.consumers.delete(consumer);
        await consumer.cancel();
      },
    };
  }

  async stats(queueName: string): Promise<QueueStats> {
    const connection = this.requireConnection(`read the stats of queue "${queueName}"`);
    const brokerQueue = this.prefix + queueName;
    // A channel of its own: a passive declare of a missing queue closes the channel it ran on.
    let channel: Channel;
    try {
      channel = await connection.createChannel();
    } catch (error) {
      throw this.brokerError(`read the stats of queue "${queueName}"`, queueName, error);
    }
    channel.on("error", () => undefined);
    try {
      const ready = (await channel.checkQueue(brokerQueue)).messageCount;
      const dead = (await channel.checkQueue(`${brokerQueue}.dead`)).messageCount;
      let delayed = 0;
      for (const name of this.delayQueues.countable(queueName, this.generation, Date.now())) delayed += (await channel.checkQueue(name)).messageCount;
      return { ready, inFlight: this.inFlight.get(queueName) ?? 0, delayed, dead };
    } catch (error) {
      throw this.brokerError(`read the stats of queue "${queueName}"`, queueName, error);
    } finally {
      void channel.close().catch(() => undefined);
    }
  }

  /** Every queue this driver created on the broker (main, dead and delay queues), for cleanup tools and tests. */
  brokerQueueNames(): string[] {
    const names: string[] = [];
    for (const queueName of this.declared.keys()) names.push(this.prefix + queueName, `${this.prefix}${queueName}.dead`);
    names.push(...this.delayQueues.names());
    return names;
  }

  // ---- AmqpConsumerHost ----

  currentConnection(): ChannelModel | undefined {
    return this.link?.current;
  }

  inFlightChanged(queueName: string, delta: number): void {
    this.inFlight.set(queueName, (this.inFlight.get(queueName) ?? 0) + delta);
  }

  async redeclare(queueName: string): Promise<void> {
    const declared = this.declared.get(queueName);
    const connection = this.link?.current;
    if (!declared || !connection) return;
    await this.assertQueue(connection, queueName, declared);
  }

  republish(queueName: string, raw: ConsumeMessage, headers: Record<string, string | number>, delayMs: number): Promise<void> {
    try {
      const publisher = this.requirePublisher(`retry a message of queue "${queueName}"`);
      const properties = copyProperties(raw, headers) as Options.Publish & { messageId: string };
      const delay = checkDelay(this.id, queueName, delayMs);
      if (delay === 0) return publisher.publish(this.prefix + queueName, queueName, raw.content, properties);
      return this.publishDelayed(publisher, queueName, delay, raw.content, properties);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  publishDead(queueName: string, raw: ConsumeMessage, headers: Record<string, string | number>): Promise<void> {
    try {
      const publisher = this.requirePublisher(`bury a message of queue "${queueName}"`);
      const properties = copyProperties(raw, headers) as Options.Publish & { messageId: string };
      return publisher.publish(`${this.prefix}${queueName}.dead`, queueName, raw.content, properties);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // ---- connection lifecycle ----

  /** Runs on every new connection before it counts as up: channels, declarations, consumers. */
  private async setup(connection: ChannelModel): Promise<void> {
    this.generation++;
    const confirmChannel = await connection.createConfirmChannel();
    const publisher = new AmqpPublisher(confirmChannel, {
      driverId: this.id,
      onReturned: (queue) => this.returned(queue),
      redact: (text) => this.redact(text),
    });
    this.admin = undefined;
    // One queue or consumer that the broker refuses must not keep the whole driver offline: it is
    // reported (and a consumer tried again); a lost connection fails the setup at the next step anyway.
    for (const [queueName, declared] of this.declared) {
      await this.assertQueue(connection, queueName, declared).catch((error: unknown) => {
        this.logger.error(`declaring queue "${queueName}" again failed: ${errorMessage(error)}`);
      });
    }
    this.publisher = publisher;
    for (const consumer of this.consumers) {
      if (consumer.isCancelled) continue;
      await consumer.attach(connection).catch((error: unknown) => {
        this.logger.error(`consumer of queue "${consumer.queueName}" could not subscribe again: ${errorMessage(error)}; trying again in ${this.reconnectDelayMs}ms`);
        consumer.scheduleReattach(connection);
      });
    }
    if (publisher.closed) throw new Error("the publishing channel closed during setup");
  }

  private connectionLost(reason: string): void {
    this.publisher?.markClosed(reason);
    this.publisher = undefined;
    this.admin = undefined;
    for (const consumer of this.consumers) consumer.detach();
    this.logger.error(`lost the connection to ${this.settings.endpoint.maskedUrl}: ${reason}; publishes fail until it is back`);
  }

  /** A message came back unroutable: its queue is gone from the broker; declare it again for the next publish. */
  private returned(brokerQueue: string): void {
    if (this.delayQueues.forget(brokerQueue)) return;
    const queueName = brokerQueue.startsWith(this.prefix) ? brokerQueue.slice(this.prefix.length).replace(/\.dead$/, "") : brokerQueue;
    this.redeclare(queueName).catch((error: unknown) => this.logger.warn(`declaring queue "${queueName}" again failed: ${errorMessage(error)}`));
  }

  private async adminChannel(connection: ChannelModel): Promise<Channel> {
    if (this.admin) return this.admin;
    const channel = await connection.createChannel();
    channel.on("error", () => undefined);
    channel.on("close", () => {
      if (this.admin === channel) this.admin = undefined;
    });
    this.admin = channel;
    return channel;
  }

  private async assertQueue(connection: ChannelModel, queueName: string, declared: DeclaredQueue): Promise<void> {
    const brokerQueue = this.prefix + queueName;
    await this.onAdmin(connection, `declare queue "${queueName}"`, queueName, async (admin) => {
      await admin.assertQueue(brokerQueue, { durable: true, arguments: declared.arguments });
      await admin.assertQueue(`${brokerQueue}.dead`, { durable: true });
    });
  }

  /** Runs declarations on the admin channel; the broker closes that channel when it refuses one, so it is dropped then. */
  private async onAdmin(connection: ChannelModel, action: string, queueName: string, work: (admin: Channel) => Promise<void>): Promise<void> {
    let admin: Channel | undefined;
    try {
      admin = await this.adminChannel(connection);
      await work(admin);
    } catch (error) {
      if (admin && this.admin === admin) this.admin = undefined;
      throw this.brokerError(action, queueName, error);
    }
  }

  private async publishDelayed(publisher: AmqpPublisher, queueName: string, delayMs: number, content: Buffer, properties: Options.Publish & { messageId: string }): Promise<void> {
    const delayQueue = await this.delayQueue(queueName, roundDelay(delayMs));
    await publisher.publish(delayQueue, queueName, content, properties);
  }

  /** The delay queue for `ttl`, declared (again) first unless this process did so recently on this connection. */
  private delayQueue(queueName: string, ttl: number): Promise<string> {
    const brokerQueue = this.prefix + queueName;
    return this.delayQueues.declared(queueName, brokerQueue, ttl, this.generation, async (name, args) => {
      const connection = this.requireConnection(`delay a message of queue "${queueName}"`);
      await this.onAdmin(connection, `declare the delay queue ${name}`, queueName, async (admin) => {
        await admin.assertQueue(name, { durable: true, arguments: args });
      });
    });
  }

  // ---- checks and errors ----

  private requireConnection(action: string): ChannelModel {
    if (this.state !== "running") throw this.notRunning(action);
    const connection = this.link?.current;
    if (!connection) throw unreachableError(this.id, this.link?.failure || "not connected");
    return connection;
  }

  private requirePublisher(action: string): AmqpPublisher {
    this.requireConnection(action);
    const publisher = this.publisher;
    if (!publisher || publisher.closed) throw unreachableError(this.id, "the publishing channel is closed");
    const blocked = this.link?.blocked;
    if (blocked !== undefined) {
      throw unreachableError(this.id, `the broker blocks publishing (${blocked})`, { hint: "the broker hit a memory or disk alarm; free resources on it" });
    }
    return publisher;
  }

  private notRunning(action: string): TaskrtError {
    const why = this.state === "created" ? "it is not started" : this.state === "starting" ? "it is still connecting" : "it is stopped";
    return new TaskrtError(AMQP_QUEUE_ERROR.STOPPED, `queue driver ${this.id} cannot ${action}: ${why}`, {
      entryId: this.id,
      hint:
        this.state === "created"
          ? `start ${this.id} first: give it lifecycle.auto_start: true, or list it in lifecycle.requires of the entry that uses it`
          : "settle and publish before the driver stops",
    });
  }

  /** A failed broker operation, said in the driver's words: a missing queue, a conflicting one, or the broker gone. */
  private brokerError(action: string, queueName: string, error: unknown): TaskrtError {
    if (error instanceof TaskrtError) return error;
    const reason = this.redact(brokerText(error));
    const code = replyCode(error);
    if (code === REPLY.NOT_FOUND) {
      return new TaskrtError(AMQP_QUEUE_ERROR.NOT_DECLARED, `queue driver ${this.id} cannot ${action}: the queue does not exist on the broker (${reason})`, {
        entryId: this.id,
        hint: "declare the queue first: a queue.queue entry does so on first use",
        cause: error,
      });
    }
    if (code === REPLY.PRECONDITION_FAILED) {
      return new TaskrtError(AMQP_QUEUE_ERROR.CONFLICT, `queue driver ${this.id} cannot ${action}: it exists on the broker with other settings (${reason})`, {
        entryId: this.id,
        hint: `${this.id} declares durable queues ${this.settings.maxPriority > 0 ? `with x-max-priority ${this.settings.maxPriority}` : "without priorities"}; delete the old queue (rabbitmqctl delete_queue ${this.prefix}${queueName}) or use another queue_name`,
        cause: error,
      });
    }
    if (!this.link?.current) return unreachableError(this.id, this.link?.failure || reason, { cause: error });
    return new TaskrtError(AMQP_QUEUE_ERROR.UNAVAILABLE, `queue driver ${this.id} cannot ${action}: ${reason}`, { entryId: this.id, cause: error });
  }

  private redact(text: string): string {
    return redactPassword(text, this.settings.endpoint);
  }
}

/** The broker's own words from an amqplib channel error (`… with message "PRECONDITION_FAILED - <text>"`). */
function brokerText(error: unknown): string {
  const message = errorMessage(error);
  const match = /with message "(?:[A-Z_]+ - )?(.*)"$/s.exec(message);
  return match ? match[1] : message;
}
