/**
 * @module drivers/queue/amqp-publisher — publishing on one confirm channel: each publish resolves
 * when the broker confirms it (persisted, for a durable queue and a persistent message) and rejects
 * on a negative confirm, on a lost connection, or when no queue took the message.
 *
 * Every publish is `mandatory`: a message for a queue that does not exist (deleted on the broker)
 * comes back as a basic.return just before its confirm, and is reported instead of vanishing.
 */
import type { ConfirmChannel, Message, Options } from "amqplib";
import { TaskrtError, errorMessage } from "../../errors.ts";
import { AMQP_QUEUE_ERROR, unreachableError } from "./amqp-errors.ts";

interface PendingPublish {
  returned: boolean;
}

export interface AmqpPublisherOptions {
  driverId: string;
  /** Told about every returned (unroutable) message, so the driver can declare the queue again. */
  onReturned(queue: string): void;
  redact(text: string): string;
}

export class AmqpPublisher {
  /** Publishes awaiting their confirm, by message id: a basic.return names the message only by its properties. */
  private readonly pending = new Map<string, PendingPublish>();
  private closedReason: string | undefined;

  constructor(
    private readonly channel: ConfirmChannel,
    private readonly options: AmqpPublisherOptions,
  ) {
    channel.on("return", (message: Message) => {
      const pending = this.pending.get(message.properties.messageId as string);
      if (pending) pending.returned = true;
    });
    channel.on("error", () => {
      // The 'close' that follows carries the consequence; without a listener the error would crash the process.
    });
    channel.on("close", () => {
      this.closedReason ??= "the publishing channel closed";
    });
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /**
   * Resolves once the broker confirmed the message for broker queue `target` (a routing key on the
   * default exchange); errors name `queueName`, the queue as its entry knows it.
   */
  publish(target: string, queueName: string, content: Buffer, properties: Options.Publish & { messageId: string }): Promise<void> {
    if (this.closedReason !== undefined) return Promise.reject(unreachableError(this.options.driverId, this.closedReason));
    return new Promise<void>((resolve, reject) => {
      const pending: PendingPublish = { returned: false };
      const id = properties.messageId;
      this.pending.set(id, pending);
      try {
        this.channel.publish("", target, content, properties, (error: unknown) => {
          if (this.pending.get(id) === pending) this.pending.delete(id);
          if (error) reject(this.confirmError(queueName, id, error));
          else if (pending.returned) {
            this.options.onReturned(target);
            reject(this.returnedError(queueName));
          } else resolve();
        });
      } catch (error) {
        this.pending.delete(id);
        reject(this.confirmError(queueName, id, error));
      }
    });
  }

  /** Waits (at most `timeoutMs`) for the confirms of every publish sent so far, before closing. */
  async flush(timeoutMs: number): Promise<void> {
    if (this.closedReason !== undefined || this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.channel.waitForConfirms().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  markClosed(reason: string): void {
    this.closedReason ??= reason;
  }

  private confirmError(queue: string, messageId: string, error: unknown): TaskrtError {
    const driverId = this.options.driverId;
    if (this.closedReason !== undefined || /closed/i.test(errorMessage(error))) {
      return unreachableError(driverId, `the connection was lost before the broker confirmed message ${messageId} for queue "${queue}"; it may or may not be stored`, {
        cause: error,
      });
    }
    if (/nack/i.test(errorMessage(error))) {
      return new TaskrtError(AMQP_QUEUE_ERROR.REJECTED, `queue broker ${driverId} did not accept message ${messageId} for queue "${queue}" (negative confirm)`, {
        entryId: driverId,
        hint: "the queue may be at its max_length, or the broker short of disk or memory (see its log)",
        cause: error,
      });
    }
    return new TaskrtError(AMQP_QUEUE_ERROR.UNAVAILABLE, `queue broker ${driverId} could not take message ${messageId} for queue "${queue}": ${this.options.redact(errorMessage(error))}`, {
      entryId: driverId,
      cause: error,
    });
  }

  private returnedError(queue: string): TaskrtError {
    return new TaskrtError(AMQP_QUEUE_ERROR.NOT_DECLARED, `queue "${queue}" does not exist on queue broker ${this.options.driverId}: the message was returned unroutable`, {
      entryId: this.options.driverId,
      hint: "a queue.queue entry declares its queue on first use; a queue deleted on the broker is declared again, so publish again",
    });
  }
}
