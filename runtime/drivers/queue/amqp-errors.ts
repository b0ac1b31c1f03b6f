/**
 * @module drivers/queue/amqp-errors — the error codes of the AMQP queue driver and the builders of
 * its recurring errors, so every "broker unreachable" reads the same wherever it is raised.
 */
import { TaskrtError } from "../../errors.ts";

export const AMQP_QUEUE_ERROR = {
  /** No connection to the broker right now (down, restarting, refused the login): an HTTP 503. */
  UNAVAILABLE: "E_QUEUE_UNAVAILABLE",
  STOPPED: "E_QUEUE_STOPPED",
  CONFIG: "E_QUEUE_CONFIG",
  OPTIONS: "E_QUEUE_OPTIONS",
  PREFETCH: "E_QUEUE_PREFETCH",
  NOT_DECLARED: "E_QUEUE_NOT_DECLARED",
  /** The queue exists on the broker with other arguments than this driver declares. */
  CONFLICT: "E_QUEUE_CONFLICT",
  /** The broker answered a publish with a negative confirm. */
  REJECTED: "E_QUEUE_REJECTED",
  INVALID_MESSAGE: "E_INVALID_MESSAGE",
  ALREADY_SETTLED: "E_ALREADY_SETTLED",
} as const;

export const RECONNECT_HINT = "the driver reconnects on its own with backoff; try again shortly";

/** `queue broker app:amqp is unreachable: <reason>` — what a publish during an outage rejects with. */
export function unreachableError(driverId: string, reason: string, options: { hint?: string; cause?: unknown } = {}): TaskrtError {
  return new TaskrtError(AMQP_QUEUE_ERROR.UNAVAILABLE, `queue broker ${driverId} is unreachable: ${reason}`, {
    entryId: driverId,
    hint: options.hint ?? RECONNECT_HINT,
    cause: options.cause,
  });
}

/** The AMQP reply code of a channel or connection error (404 NOT_FOUND, 406 PRECONDITION_FAILED, …). */
export function replyCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

export const REPLY = { NOT_FOUND: 404, PRECONDITION_FAILED: 406, ACCESS_REFUSED: 403, NOT_ALLOWED: 530 } as const;
