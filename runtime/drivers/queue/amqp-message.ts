/**
 * @module drivers/queue/amqp-message — how a taskrt message travels as an AMQP message: JSON body,
 * headers table, attempts carried in `x-attempts`, and what a handler sees of it on delivery.
 *
 * `x-attempts` holds the attempt number of the message's next delivery (absent: 1). A retry
 * publishes a copy with it raised by one; a release (nack with requeue) keeps the message as is,
 * and the broker's `redelivered` flag is ignored, so neither a release nor a broker restart counts
 * as an attempt.
 */
import type { Message, Options } from "amqplib";
import { TaskrtError, errorMessage } from "../../errors.ts";
import { AMQP_QUEUE_ERROR } from "./amqp-errors.ts";
import type { Headers, QueueMessage } from "./driver.ts";

export const JSON_CONTENT_TYPE = "application/json";
export const ATTEMPTS_HEADER = "x-attempts";
export const LAST_ERROR_HEADER = "x_last_error";

/** Headers the broker adds when a message passes through a delay queue: bookkeeping, not the handler's. */
const BROKER_HEADERS = ["x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason", "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason"];

export function encodeBody(driverId: string, queueName: string, body: unknown): Buffer {
  let text: string | undefined;
  try {
    text = JSON.stringify(body === undefined ? null : body);
  } catch (cause) {
    throw bodyError(driverId, queueName, errorMessage(cause), cause);
  }
  if (text === undefined) throw bodyError(driverId, queueName, `a ${typeof body} has no JSON form`);
  return Buffer.from(text);
}

/** As every driver does (and Wippy): each message carries the unix second it was published at, unless set. */
export function withTimestamp(headers: Headers): Headers {
  const copy: Headers = { ...headers };
  if (copy.timestamp === undefined) copy.timestamp = Math.floor(Date.now() / 1000);
  return copy;
}

/** What the handler gets: the decoded body, the publisher's headers, and the attempt number. */
export function decodeMessage(message: Message): QueueMessage {
  const properties = message.properties;
  const headers = (properties.headers ?? {}) as Record<string, unknown>;
  const attempts = headers[ATTEMPTS_HEADER];
  const visible: Headers = {};
  for (const key in headers) {
    if (key === ATTEMPTS_HEADER || BROKER_HEADERS.includes(key)) continue;
    visible[key] = headers[key] as Headers[string];
  }
  return {
    id: typeof properties.messageId === "string" ? properties.messageId : "",
    body: decodeBody(message),
    headers: visible,
    attempts: typeof attempts === "number" && attempts >= 1 ? attempts : 1,
  };
}

/**
 * The properties of a copy of a delivered message (its body is reused as is, byte for byte): same
 * id, content type and priority, the broker's bookkeeping dropped, and `extra` headers added.
 */
export function copyProperties(message: Message, extra: Record<string, string | number>): Options.Publish {
  const properties = message.properties;
  const headers: Record<string, unknown> = {};
  const original = (properties.headers ?? {}) as Record<string, unknown>;
  for (const key in original) if (!BROKER_HEADERS.includes(key)) headers[key] = original[key];
  Object.assign(headers, extra);
  return {
    messageId: properties.messageId,
    contentType: properties.contentType,
    priority: properties.priority,
    headers,
    persistent: true,
    mandatory: true,
  };
}

/**
 * JSON unless the publisher said otherwise: taskrt publishes JSON; a message from another client
 * marked `text/*`, or not valid JSON, arrives as a string rather than failing the delivery.
 */
function decodeBody(message: Message): unknown {
  const text = message.content.toString("utf8");
  const contentType = message.properties.contentType as string | undefined;
  if (contentType !== undefined && contentType.startsWith("text/")) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function bodyError(driverId: string, queueName: string, reason: string, cause?: unknown): TaskrtError {
  return new TaskrtError(AMQP_QUEUE_ERROR.INVALID_MESSAGE, `queue driver ${driverId} cannot encode the message body for queue "${queueName}": ${reason}`, {
    entryId: driverId,
    hint: "publish JSON values: objects, arrays, strings, numbers, booleans or null",
    cause,
  });
}
