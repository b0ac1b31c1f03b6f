/**
 * @module drivers/queue/amqp-consumer — one `consume()` on the AMQP driver: its own channel with
 * the consumer's prefetch, manual acks, and the deliveries it hands out and settles.
 *
 * States: DETACHED → attach → ATTACHED → (channel or connection lost) → DETACHED → attach …;
 * cancel or close → CANCELLED (final).
 * - ATTACHED: the broker pushes at most `prefetch` unacknowledged messages onto the channel.
 * - DETACHED: the channel is gone, and with it every unsettled delivery: the broker has put those
 *   messages back and delivers them again; settling one is refused with a clear error. The driver
 *   re-attaches the consumer when the connection is back; a channel closed on its own (the queue
 *   deleted under it) is re-attached after `reconnect_delay`.
 * - CANCELLED: no new deliveries (a message that arrives before the broker confirmed the cancel
 *   goes straight back); deliveries already handed out can still be settled, and the channel
 *   closes after the last one.
 *
 * Settlements: ack and release (nack with requeue) go to the broker at once; retry and bury first
 * publish the copy (to a delay queue, or to `<queue>.dead`) and wait for its confirm, then ack.
 */
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import { TaskrtError, errorMessage } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import { AMQP_QUEUE_ERROR, unreachableError } from "./amqp-errors.ts";
import { ATTEMPTS_HEADER, LAST_ERROR_HEADER, decodeMessage } from "./amqp-message.ts";
import type { Delivery, QueueMessage } from "./driver.ts";

export type SettlementKind = "ack" | "retry" | "bury" | "release";

/** What a consumer needs from its driver. */
export interface AmqpConsumerHost {
  readonly id: string;
  readonly logger: Logger;
  readonly reconnectDelayMs: number;
  readonly stopped: boolean;
  /** The live connection, if any. */
  currentConnection(): ChannelModel | undefined;
  /** Declares the queue again (after it was deleted on the broker). */
  redeclare(queueName: string): Promise<void>;
  /** Publishes a copy of `raw` to the queue after `delayMs`, with `headers` added; resolves on confirm. */
  republish(queueName: string, raw: ConsumeMessage, headers: Record<string, string | number>, delayMs: number): Promise<void>;
  /** Publishes a copy of `raw` to the queue's dead queue; resolves on confirm. */
  publishDead(queueName: string, raw: ConsumeMessage, headers: Record<string, string | number>): Promise<void>;
  inFlightChanged(queueName: string, delta: number): void;
}

export class AmqpConsumer {
  private channel: Channel | undefined;
  private consumerTag: string | undefined;
  private unsettled = 0;
  private cancelled = false;
  private reattachTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: AmqpConsumerHost,
    readonly queueName: string,
    private readonly brokerQueue: string,
    private readonly prefetch: number,
    private readonly onDelivery: (delivery: Delivery) => void,
  ) {}

  get isCancelled(): boolean {
    return this.cancelled;
  }

  /** Opens the consumer's channel on `connection` and subscribes. */
  async attach(connection: ChannelModel): Promise<void> {
    if (this.cancelled) return;
    const channel = await connection.createChannel();
    channel.on("error", (error: Error) => {
      // A failure while subscribing reaches the caller as the rejection; later ones only show here.
      if (this.channel === channel && this.consumerTag !== undefined) {
        this.host.logger.warn(`consumer channel of queue "${this.queueName}" failed: ${errorMessage(error)}`);
      }
    });
    channel.on("close", () => this.channelClosed(channel, connection));
    try {
      await channel.prefetch(this.prefetch);
      this.channel = channel;
      const { consumerTag } = await channel.consume(this.brokerQueue, (message) => this.arrived(channel, message), { noAck: false });
      this.consumerTag = consumerTag;
    } catch (error) {
      if (this.channel === channel) this.channel = undefined;
      await channel.close().catch(() => undefined);
      throw error;
    }
  }

  /** Stops new deliveries; the channel stays open until the deliveries handed out are settled. */
  async cancel(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    clearTimeout(this.reattachTimer);
    const { channel, consumerTag } = this;
    if (!channel) return;
    if (consumerTag !== undefined) await channel.cancel(consumerTag).catch(() => undefined);
    if (this.unsettled === 0) await this.closeChannel(channel);
  }

  /** The driver stops: the connection closes under the channel, which returns every unsettled message. */
  close(): void {
    this.cancelled = true;
    clearTimeout(this.reattachTimer);
    this.detach();
  }

  /** The channel is gone with its connection: forget the deliveries, the broker redelivers them. */
  detach(): void {
    if (this.unsettled > 0) this.host.inFlightChanged(this.queueName, -this.unsettled);
    this.unsettled = 0;
    this.channel = undefined;
    this.consumerTag = undefined;
  }

  /** Called by a delivery; throws when it was settled already or its channel is gone. */
  async settle(delivery: AmqpDelivery, kind: SettlementKind, delayMs: number, error: string): Promise<void> {
    if (delivery.settledAs !== undefined) {
      throw new TaskrtError(AMQP_QUEUE_ERROR.ALREADY_SETTLED, `message ${delivery.message.id} of queue "${this.queueName}" is already settled (${delivery.settledAs}); ${kind} refused`, {
        entryId: this.host.id,
        hint: "settle each delivery once: ack, retry, bury or release",
      });
    }
    delivery.settledAs = kind;
    const channel = delivery.channel;
    if (this.channel !== channel) throw this.lostError(delivery, kind);
    this.unsettled--;
    this.host.inFlightChanged(this.queueName, -1);
    try {
      switch (kind) {
        case "ack":
          this.send(delivery, kind, () => channel.ack(delivery.raw));
          break;
        case "release":
          this.send(delivery, kind, () => channel.nack(delivery.raw, false, true));
          break;
        case "retry":
          await this.moveThenAck(delivery, kind, () =>
            this.host.republish(this.queueName, delivery.raw, { [ATTEMPTS_HEADER]: delivery.message.attempts + 1, [LAST_ERROR_HEADER]: error }, delayMs),
          );
          break;
        case "bury":
          await this.moveThenAck(delivery, kind, () => this.host.publishDead(this.queueName, delivery.raw, deadHeaders(delivery.message, this.queueName, error)));
          break;
        default: {
          const unknown: never = kind;
          throw new Error(`unknown settlement ${String(unknown)}`);
        }
      }
    } finally {
      if (this.cancelled && this.unsettled === 0 && this.channel === channel) void this.closeChannel(channel);
    }
  }

  /**
   * The copy first, then the ack: a crash in between leaves the message twice (at least once),
   * never zero times. A copy that cannot be published puts the original back unchanged.
   */
  private async moveThenAck(delivery: AmqpDelivery, kind: SettlementKind, publishCopy: () => Promise<void>): Promise<void> {
    const channel = delivery.channel;
    try {
      await publishCopy();
    } catch (error) {
      if (this.channel === channel) this.nackQuietly(channel, delivery.raw);
      throw new TaskrtError(
        (error as TaskrtError).code ?? AMQP_QUEUE_ERROR.UNAVAILABLE,
        `${kind} of message ${delivery.message.id} of queue "${this.queueName}" failed, the message went back to the queue unchanged: ${errorMessage(error)}`,
        { entryId: this.host.id, cause: error },
      );
    }
    if (this.channel !== channel) {
      // The copy is stored and the broker also redelivers the original: one extra delivery, nothing lost.
      this.host.logger.warn(`message ${delivery.message.id} of queue "${this.queueName}" was ${kind === "retry" ? "retried" : "buried"} but its channel closed before the ack; it is delivered once more`);
      return;
    }
    this.send(delivery, kind, () => channel.ack(delivery.raw));
  }

  /** An ack or nack on a channel that closed an instant ago throws; the broker redelivers that message. */
  private send(delivery: AmqpDelivery, kind: SettlementKind, frame: () => void): void {
    try {
      frame();
    } catch (error) {
      throw this.lostError(delivery, kind, error);
    }
  }

  private arrived(channel: Channel, raw: ConsumeMessage | null): void {
    if (raw === null) {
      // The broker cancelled the subscription: the queue was deleted under it.
      this.host.logger.warn(`queue "${this.queueName}" was deleted on the broker; declaring it again and resubscribing`);
      void channel.close().catch(() => undefined);
      return;
    }
    if (this.cancelled || this.channel !== channel) {
      this.nackQuietly(channel, raw);
      return;
    }
    const message = decodeMessage(raw);
    this.unsettled++;
    this.host.inFlightChanged(this.queueName, 1);
    const delivery = new AmqpDelivery(this, channel, raw, message);
    try {
      this.onDelivery(delivery);
    } catch (error) {
      // The consumer owns the delivery now; a throwing callback is its bug, reported, not retried here.
      this.host.logger.error(`consumer of queue "${this.queueName}" threw on delivery: ${errorMessage(error)}`, { messageId: message.id });
    }
  }

  /** Puts a message back; on a channel already closing there is nothing to do, the broker requeues it anyway. */
  private nackQuietly(channel: Channel, raw: ConsumeMessage): void {
    try {
      channel.nack(raw, false, true);
    } catch {
      // closed: requeued by the broker
    }
  }

  private channelClosed(channel: Channel, connection: ChannelModel): void {
    if (this.channel !== channel) return;
    this.detach();
    if (this.cancelled || this.host.stopped) return;
    // With the connection gone the driver re-attaches every consumer once it is back; a channel
    // closed on its own (queue deleted, channel error) is re-attached here.
    if (this.host.currentConnection() !== connection) return;
    this.scheduleReattach(connection);
  }

  /** Subscribes again on `connection` after `reconnect_delay` (and keeps trying while it stays up). */
  scheduleReattach(connection: ChannelModel): void {
    clearTimeout(this.reattachTimer);
    this.reattachTimer = setTimeout(() => void this.reattach(connection), this.host.reconnectDelayMs);
  }

  private async reattach(connection: ChannelModel): Promise<void> {
    if (this.cancelled || this.channel || this.host.currentConnection() !== connection) return;
    try {
      await this.host.redeclare(this.queueName);
      await this.attach(connection);
      this.host.logger.info(`consumer of queue "${this.queueName}" subscribed again`);
    } catch (error) {
      if (this.host.currentConnection() !== connection) return;
      if (this.cancelled) return;
      this.host.logger.error(`consumer of queue "${this.queueName}" could not subscribe again: ${errorMessage(error)}; trying again in ${this.host.reconnectDelayMs}ms`);
      this.scheduleReattach(connection);
    }
  }

  private async closeChannel(channel: Channel): Promise<void> {
    if (this.channel === channel) this.channel = undefined;
    await channel.close().catch(() => undefined);
  }

  private lostError(delivery: AmqpDelivery, kind: SettlementKind, cause?: unknown): TaskrtError {
    const what = `${kind} of message ${delivery.message.id} of queue "${this.queueName}" is void`;
    if (this.host.stopped) {
      return new TaskrtError(AMQP_QUEUE_ERROR.STOPPED, `queue driver ${this.host.id} stopped after the delivery: ${what}, the message went back to the queue`, {
        entryId: this.host.id,
        hint: "settle deliveries before the driver stops; the broker delivers unsettled messages again",
        cause,
      });
    }
    return unreachableError(this.host.id, `the connection was lost after the delivery: ${what}, the broker delivers the message again`, { cause });
  }
}

export class AmqpDelivery implements Delivery {
  settledAs: SettlementKind | undefined;

  constructor(
    private readonly consumer: AmqpConsumer,
    readonly channel: Channel,
    readonly raw: ConsumeMessage,
    readonly message: QueueMessage,
  ) {}

  ack(): Promise<void> {
    return this.consumer.settle(this, "ack", 0, "");
  }

  retry(delayMs: number, error: string): Promise<void> {
    return this.consumer.settle(this, "retry", delayMs, error);
  }

  bury(error: string): Promise<void> {
    return this.consumer.settle(this, "bury", 0, error);
  }

  release(): Promise<void> {
    return this.consumer.settle(this, "release", 0, "");
  }
}

/** Why the message died, as the `queue.queue` dead-letter headers say it, plus the last error. */
function deadHeaders(message: QueueMessage, queueName: string, error: string): Record<string, string | number> {
  return {
    [LAST_ERROR_HEADER]: error,
    [ATTEMPTS_HEADER]: message.attempts,
    x_dead_reason: error,
    x_attempts: message.attempts,
    x_original_queue: queueName,
    x_failed_at: Math.floor(Date.now() / 1000),
  };
}
