/**
 * @module drivers/queue/amqp-options — the checks on what callers hand the AMQP driver: a queue's
 * `driver_options.amqp` (turned into queue arguments), a publish's priority and its delay.
 */
import { TaskrtError } from "../../errors.ts";
import { AMQP_QUEUE_ERROR } from "./amqp-errors.ts";
import { DELAY_QUEUE_EXPIRY_MARGIN_MS } from "./amqp-delay.ts";

/** The longest delay whose delay queue RabbitMQ accepts (its `x-expires` must stay below 2^32 ms, about 49 days). */
export const MAX_DELAY_MS = 2 ** 32 - 1 - DELAY_QUEUE_EXPIRY_MARGIN_MS;

/**
 * Arguments of a main queue: `x-max-priority` unless priorities are off (`maxPriority` 0), and
 * `max_length` from `driver_options.amqp` when given.
 */
export function queueArguments(driverId: string, queueName: string, options: Record<string, unknown> | undefined, maxPriority: number): Record<string, unknown> {
  const args: Record<string, unknown> = maxPriority > 0 ? { "x-max-priority": maxPriority } : {};
  if (!options) return args;
  for (const key of Object.keys(options)) {
    if (key !== "max_length") {
      throw new TaskrtError(AMQP_QUEUE_ERROR.OPTIONS, `queue "${queueName}": driver_options.amqp.${key} is not supported by ${driverId}`, {
        entryId: driverId,
        hint: "driver_options.amqp takes max_length; queues are always durable, and expiry would lose tasks",
      });
    }
  }
  const maxLength = options.max_length;
  if (maxLength !== undefined) {
    if (typeof maxLength !== "number" || !Number.isInteger(maxLength) || maxLength < 1) {
      throw new TaskrtError(AMQP_QUEUE_ERROR.OPTIONS, `queue "${queueName}": driver_options.amqp.max_length must be a positive whole number, found ${JSON.stringify(maxLength)}`, {
        entryId: driverId,
        hint: "write e.g. driver_options: { amqp: { max_length: 100000 } }",
      });
    }
    // Refuse new messages rather than drop the oldest: a full queue fails the publish, never a task.
    args["x-max-length"] = maxLength;
    args["x-overflow"] = "reject-publish";
  }
  return args;
}

/** The AMQP priority of a publish: whole numbers only, clamped to 0..maxPriority. */
export function checkPriority(driverId: string, queueName: string, priority: number | undefined, maxPriority: number): number {
  if (priority === undefined) return 0;
  if (!Number.isInteger(priority)) {
    throw new TaskrtError(AMQP_QUEUE_ERROR.OPTIONS, `queue driver ${driverId}: priority for queue "${queueName}" must be a whole number, found ${String(priority)}`, { entryId: driverId });
  }
  return Math.min(maxPriority, Math.max(0, priority));
}

/** A publish's or retry's delay in milliseconds; 0 means none. */
export function checkDelay(driverId: string, queueName: string, delayMs: number | undefined): number {
  if (delayMs === undefined || delayMs === 0) return 0;
  if (Number.isFinite(delayMs) && delayMs >= 0 && delayMs <= MAX_DELAY_MS) return delayMs;
  throw new TaskrtError(AMQP_QUEUE_ERROR.OPTIONS, `queue driver ${driverId}: delay for queue "${queueName}" must be between 0 and ${MAX_DELAY_MS} milliseconds, found ${String(delayMs)}`, {
    entryId: driverId,
  });
}
