/**
 * @module kinds/queue-queue — `queue.queue`: a named queue on a driver, offering publish and
 * consume with the entry's retry, backoff and dead-letter policy applied the same way on every driver.
 *
 * Not a service: the queue is declared on its driver lazily, on first publish or consume (one shared
 * promise; a failed declare is tried again next time), because functions publish by id at run
 * time and nothing guarantees a start() would run first.
 */
import { TaskrtError, errorMessage } from "../errors.ts";
import { parseDuration } from "../duration.ts";
import { resolveId, type Entry } from "../registry/entry.ts";
import type { Logger } from "../logger.ts";
import type { Component } from "../contracts/component.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import { defineKind } from "../contracts/kind-definition.ts";
import {
  hasCapability,
  isDeadLetterStore,
  publishesAfterCommit,
  type BoundDeadLetters,
  type CapabilityMethods,
  type QueueCapability,
  type ConsumeOptions,
  type Delivery,
  type Headers,
  type PreparedPublish,
  type PreparedUniquePublish,
  type PublishOptions,
  type PublishResult,
  type RetentionPolicy,
  type RateLimit,
  type BrowsedMessage,
  type BrowseQuery,
  type MessagePage,
  type UniquePublishOptions,
  type QueueDriver,
  type QueueHandle,
  type QueueStats,
  type Subscription,
} from "../drivers/queue/driver.ts";
import type { BatchQueueStep } from "../drivers/sql/driver.ts";
import { deadLetterHeaders, decideFailure, parseRetryPolicy, type RetryPolicy } from "../queue/retry-policy.ts";

const DRIVER_KIND_PREFIX = "queue.driver.";

/**
 * A driver may take the queue's `driver_options.<driver>` map (e.g. `memory` for
 * `queue.driver.memory`) as a second `declare` argument; drivers that take none ignore it.
 */
type DeclareWithOptions = (queueName: string, options?: Record<string, unknown>) => Promise<void>;

export interface QueueEntryOptions {
  /** Jitter source for backoff; tests pass a fixed one. */
  random?: () => number;
}

export class QueueEntry implements Component, QueueHandle {
  readonly id: string;
  readonly queueName: string;
  private readonly policy: RetryPolicy;
  private readonly driverOptions: Record<string, unknown> | undefined;
  private readonly random: () => number;
  private declaration: Promise<void> | undefined;
  private readonly rate: RateLimit | undefined;
  private declared = false;

  constructor(
    entry: Entry,
    private readonly driver: QueueDriver,
    private readonly context: BuildContext,
    private readonly logger: Logger,
    options: QueueEntryOptions = {},
  ) {
    this.id = entry.id;
    this.queueName = (entry.data.queue_name as string | undefined) ?? entry.name;
    this.policy = parseRetryPolicy(entry);
    this.driverOptions = driverOptionsFor(entry, resolveId(entry.data.driver as string, entry.namespace), context);
    this.random = options.random ?? Math.random;
    this.rate = parseRate(entry, `queue:${this.queueName}`);
    const retention = parseRetention(entry);
    if (retention) this.capable("retention", "keep a retention").retain(this.queueName, retention);
  }

  async publish(body: unknown, headers: Headers = {}, options?: PublishOptions): Promise<string> {
    if (!this.declared) await this.declare();
    return this.driver.publish(this.queueName, body, headers, options);
  }

  async preparePublish(body: unknown, headers: Headers = {}, options?: PublishOptions): Promise<PreparedPublish | undefined> {
    const driver = this.driver;
    if (!publishesAfterCommit(driver)) return undefined;
    if (!this.declared) await this.declare();
    return driver.preparePublish(this.queueName, body, headers, options);
  }

  async prepareUniquePublish(body: unknown, headers: Headers, options: UniquePublishOptions): Promise<PreparedUniquePublish | undefined> {
    const driver = this.capable("unique", "publish with a unique_key");
    if (!publishesAfterCommit(driver) || !driver.prepareUniquePublish) return undefined;
    if (!this.declared) await this.declare();
    return driver.prepareUniquePublish(this.queueName, body, headers, options);
  }

  storesIn(databaseId: string): boolean {
    return this.driver.storesIn?.(databaseId) ?? false;
  }

  async batchStep(body: unknown, headers: Headers, options: PublishOptions | UniquePublishOptions | undefined, unique: boolean): Promise<BatchQueueStep | undefined> {
    if (!this.driver.batchStep) return undefined;
    if (unique) this.capable("unique", "publish with a unique_key");
    if (!this.declared) await this.declare();
    return this.driver.batchStep(this.queueName, body, headers, options, unique);
  }

  async publishUnique(body: unknown, headers: Headers, options: UniquePublishOptions): Promise<PublishResult> {
    const driver = this.capable("unique", "publish with a unique_key");
    if (!this.declared) await this.declare();
    return driver.publishUnique(this.queueName, body, headers, options);
  }

  /** The queue's own `rate` joins the consumer's: every consumer of the queue counts against it. */
  async consume(options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Subscription> {
    const rates = [...(options.rates ?? []), ...(this.rate ? [this.rate] : [])];
    if (rates.length > 0) this.capable("rate", "limit its rate");
    if (!this.declared) await this.declare();
    return this.driver.consume(this.queueName, rates.length > 0 ? { ...options, rates } : options, onDelivery);
  }

  async stats(): Promise<QueueStats> {
    if (!this.declared) await this.declare();
    return this.driver.stats(this.queueName);
  }

  /** Undefined when the driver cannot list dead messages (RabbitMQ hands messages out only in order). */
  deadLetters(): BoundDeadLetters | undefined {
    const store = this.driver;
    if (!isDeadLetterStore(store)) return undefined;
    return {
      list: async (page) => {
        this.checkPage(page);
        if (!this.declared) await this.declare();
        return store.listDead(this.queueName, page);
      },
      retry: async (id) => {
        if (!this.declared) await this.declare();
        return store.retryDead(this.queueName, id);
      },
      discard: async (id) => {
        if (!this.declared) await this.declare();
        return store.discardDead(this.queueName, id);
      },
    };
  }

  async pause(): Promise<void> {
    const driver = this.capable("pause", "pause");
    if (!this.declared) await this.declare();
    await driver.pause(this.queueName);
    this.logger.info(`paused: consumers take no more messages until it is resumed; publishes are still accepted`);
  }

  async resume(): Promise<void> {
    const driver = this.capable("pause", "resume");
    if (!this.declared) await this.declare();
    await driver.resume(this.queueName);
    this.logger.info("resumed");
  }

  async isPaused(): Promise<boolean> {
    const driver = this.capable("pause", "tell whether it is paused");
    if (!this.declared) await this.declare();
    return driver.isPaused(this.queueName);
  }

  async browse(query: BrowseQuery): Promise<MessagePage<BrowsedMessage>> {
    const driver = this.capable("browse", "list its waiting and delayed messages");
    this.checkPage(query);
    if (!this.declared) await this.declare();
    return driver.browse(this.queueName, query);
  }

  async promote(id: string): Promise<boolean> {
    const driver = this.capable("browse", "promote a message");
    if (!this.declared) await this.declare();
    const promoted = await driver.promote(this.queueName, id);
    if (promoted) this.logger.info(`message ${id} promoted: it runs next`, { messageId: id });
    return promoted;
  }

  async remove(id: string): Promise<boolean> {
    const driver = this.capable("browse", "remove a message");
    if (!this.declared) await this.declare();
    const removed = await driver.remove(this.queueName, id);
    if (removed) this.logger.info(`message ${id} removed unprocessed`, { messageId: id });
    return removed;
  }

  async purge(): Promise<number> {
    const driver = this.capable("purge", "purge");
    if (!this.declared) await this.declare();
    const purged = await driver.purge(this.queueName);
    this.logger.info(`purged: ${purged} waiting or delayed message${purged === 1 ? "" : "s"} dropped`);
    return purged;
  }

  async listInFlight(page: { limit: number; offset: number }): Promise<MessagePage<BrowsedMessage>> {
    const driver = this.capable("progress", "list its messages in flight");
    this.checkPage(page);
    if (!this.declared) await this.declare();
    return driver.listInFlight(this.queueName, page);
  }

  refusal(capability: QueueCapability | "dead_letters"): string | undefined {
    const offered = capability === "dead_letters" ? isDeadLetterStore(this.driver) : hasCapability(this.driver, capability);
    if (offered) return undefined;
    return this.driver.unsupported?.[capability] ?? `${this.driver.id} does not offer it`;
  }

  /** The driver, when it offers the capability; otherwise the refusal, naming the queue, the action and the driver's reason. */
  private capable<C extends QueueCapability>(capability: C, action: string): QueueDriver & CapabilityMethods[C] {
    const driver = this.driver;
    if (hasCapability(driver, capability)) return driver as QueueDriver & CapabilityMethods[C];
    throw new TaskrtError("E_QUEUE_UNSUPPORTED", `queue ${this.id} cannot ${action}: it is on ${driver.id}, and ${this.refusal(capability)}`, {
      entryId: this.id,
    });
  }

  async fail(delivery: Delivery, error: string): Promise<void> {
    const { message } = delivery;
    const decision = decideFailure(this.policy, message.attempts, this.random);
    switch (decision.action) {
      case "retry":
        return delivery.retry(decision.delayMs, error);
      case "dead_letter":
        return this.deadLetter(delivery, decision.queueId, error);
      case "bury":
        this.logger.error(`message ${message.id} failed ${message.attempts} of ${this.policy.maxAttempts} attempts and was buried: ${error}`, {
          messageId: message.id,
          attempts: message.attempts,
          error,
        });
        return delivery.bury(error);
      default: {
        const unknown: never = decision;
        throw new Error(`unknown failure decision ${JSON.stringify(unknown)}`);
      }
    }
  }

  describe(): string {
    const target = this.policy.deadLetterQueueId;
    const after = target === undefined ? "then buried" : this.policy.keepDeadLetters ? `dead letters to ${target}, kept here too` : `dead letters to ${target}`;
    return `queue '${this.queueName}' on ${this.driver.id}, ${this.policy.maxAttempts} attempts, ${after}`;
  }

  /**
   * Publish to the dead-letter queue first, then ack (with `dead_letter.keep`, bury instead, so the
   * message also stays listed as dead here): a crash in between duplicates, never loses.
   */
  private async deadLetter(delivery: Delivery, queueId: string, error: string): Promise<void> {
    const { message } = delivery;
    try {
      const target = this.context.services.queue(queueId);
      await target.publish(message.body, deadLetterHeaders(message, error, this.id, new Date()));
    } catch (publishError) {
      const reason = `${error}; dead-letter publish to ${queueId} failed: ${errorMessage(publishError)}`;
      this.logger.error(`message ${message.id} failed ${attemptsText(message.attempts)} and was buried: ${reason}`, {
        messageId: message.id,
        attempts: message.attempts,
        error: reason,
      });
      return delivery.bury(reason);
    }
    const kept = this.policy.keepDeadLetters;
    this.logger.warn(`message ${message.id} failed ${attemptsText(message.attempts)} and was ${kept ? `sent to ${queueId} and kept here as dead` : `moved to ${queueId}`}: ${error}`, {
      messageId: message.id,
      attempts: message.attempts,
      error,
    });
    return kept ? delivery.bury(error) : delivery.ack();
  }

  private checkPage(page: { limit: number; offset: number }): void {
    const { limit, offset } = page;
    if (Number.isInteger(limit) && limit >= 1 && Number.isInteger(offset) && offset >= 0) return;
    throw new TaskrtError("E_QUEUE_OPTIONS", `queue ${this.id}: messages are listed with a whole-number limit of at least 1 and offset of at least 0, got limit ${String(limit)}, offset ${String(offset)}`, {
      entryId: this.id,
    });
  }

  private declare(): Promise<void> {
    this.declaration ??= (this.driver.declare as DeclareWithOptions)
      .call(this.driver, this.queueName, this.driverOptions)
      .then(
        () => {
          this.declared = true;
        },
        (error: unknown) => {
          this.declaration = undefined;
          throw new TaskrtError("E_QUEUE_DECLARE", `queue ${this.id}: declaring '${this.queueName}' on ${this.driver.id} failed: ${errorMessage(error)}`, {
            entryId: this.id,
            cause: error,
          });
        },
      );
    return this.declaration;
  }
}

export function isQueueDriver(value: unknown): value is QueueDriver {
  const driver = value as Partial<QueueDriver> | undefined;
  return typeof driver?.declare === "function" && typeof driver.publish === "function" && typeof driver.consume === "function";
}

export function isQueueHandle(value: unknown): value is QueueHandle {
  const handle = value as Partial<QueueHandle> | undefined;
  return typeof handle?.publish === "function" && typeof handle.consume === "function" && typeof handle.fail === "function";
}

/** Builds the component; the kind's factory is this without test options. */
export function createQueueEntry(entry: Entry, context: BuildContext, options: QueueEntryOptions = {}): QueueEntry {
  const driverId = resolveId(entry.data.driver as string, entry.namespace);
  const driver = context.component(driverId);
  if (!isQueueDriver(driver)) {
    throw new TaskrtError("E_QUEUE_DRIVER", `queue ${entry.id}: ${driverId} is not a queue driver`, {
      entryId: entry.id,
      location: entry.locate(["driver"]),
      hint: "point driver at a queue.driver.* entry, e.g. queue.driver.memory",
    });
  }
  return new QueueEntry(entry, driver, context, context.logger.forEntry(entry.id), options);
}

/** An entry's `rate: {limit, per}` as a limit counted under `key`; undefined when it sets none. */
export function parseRate(entry: Entry, key: string): RateLimit | undefined {
  const rate = entry.data.rate as { limit: number; per: string | number } | undefined;
  if (!rate) return undefined;
  let perMs: number;
  try {
    perMs = parseDuration(rate.per);
  } catch (error) {
    throw new TaskrtError("E_QUEUE_OPTIONS", `${entry.id}: rate.per: ${errorMessage(error)}`, { entryId: entry.id, location: entry.locate(["rate", "per"]) });
  }
  if (perMs < 1) throw new TaskrtError("E_QUEUE_OPTIONS", `${entry.id}: rate.per must be at least 1ms, found ${String(rate.per)}`, { entryId: entry.id, location: entry.locate(["rate", "per"]) });
  return { limit: rate.limit, perMs, key };
}

/** The entry's `retention`, in milliseconds; undefined when it sets none. */
function parseRetention(entry: Entry): RetentionPolicy | undefined {
  const retention = entry.data.retention as { max_age?: string | number; max_count?: number } | undefined;
  if (!retention || (retention.max_age === undefined && retention.max_count === undefined)) return undefined;
  const policy: RetentionPolicy = {};
  if (retention.max_age !== undefined) {
    try {
      policy.maxAgeMs = parseDuration(retention.max_age);
    } catch (error) {
      throw new TaskrtError("E_QUEUE_OPTIONS", `queue ${entry.id}: retention.max_age: ${errorMessage(error)}`, { entryId: entry.id, location: entry.locate(["retention", "max_age"]) });
    }
  }
  if (retention.max_count !== undefined) policy.maxCount = retention.max_count;
  return policy;
}

function attemptsText(attempts: number): string {
  return `${attempts} attempt${attempts === 1 ? "" : "s"}`;
}

/** `driver_options.memory` for a `queue.driver.memory` driver, and so on. */
function driverOptionsFor(entry: Entry, driverId: string, context: BuildContext): Record<string, unknown> | undefined {
  const driverKind = context.registry.byId.get(driverId)?.kind ?? "";
  const key = driverKind.startsWith(DRIVER_KIND_PREFIX) ? driverKind.slice(DRIVER_KIND_PREFIX.length) : driverKind;
  const options = (entry.data.driver_options as Record<string, unknown> | undefined)?.[key];
  return typeof options === "object" && options !== null ? (options as Record<string, unknown>) : undefined;
}

export default defineKind({
  kind: "queue.queue",
  summary: "A named queue on a driver, with its retry, backoff and dead-letter policy",
  references: [
    { path: ["driver"], kinds: ["queue.driver.*"] },
    // dead_letter is a queue id or {queue}; a reference checker reads whichever of the two holds a string.
    { path: ["dead_letter"], kinds: ["queue.queue"] },
    { path: ["dead_letter", "queue"], kinds: ["queue.queue"] },
  ],
  service: false,
  create: (entry, context) => createQueueEntry(entry, context),
});
