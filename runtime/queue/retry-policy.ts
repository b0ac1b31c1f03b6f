/**
 * @module queue/retry-policy — what happens to a message whose handler failed: retry with
 * backoff, dead-letter, or bury. One rule for every driver, read from the `queue.queue` entry.
 */
import { backoffDelay, type BackoffPolicy } from "../backoff.ts";
import { parseDuration } from "../duration.ts";
import { TaskrtError, errorMessage } from "../errors.ts";
import { resolveId, type Entry } from "../registry/entry.ts";
import type { Headers, QueueMessage } from "../drivers/queue/driver.ts";

export interface RetryPolicy {
  /** Deliveries before the message is given up on. */
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** Full id of the `queue.queue` that receives given-up messages; unset: they are buried. */
  deadLetterQueueId?: string;
  /** `dead_letter.keep`: a forwarded message is also kept as dead in its own queue (buried, not acked). */
  keepDeadLetters: boolean;
}

export type FailureDecision =
  | { action: "retry"; delayMs: number }
  | { action: "dead_letter"; queueId: string }
  | { action: "bury" };

interface QueueEntryData {
  max_attempts: number;
  backoff: { initial: string | number; factor: number; max: string | number; jitter: number };
  dead_letter?: string | { queue: string; max_attempts?: number; keep?: boolean };
}

/** Reads an already validated (and defaulted) `queue.queue` entry. `dead_letter.max_attempts`, when set, wins. */
export function parseRetryPolicy(entry: Entry): RetryPolicy {
  const data = entry.data as unknown as QueueEntryData;
  const deadLetter = data.dead_letter;
  const deadLetterRef = typeof deadLetter === "string" ? deadLetter : deadLetter?.queue;
  const deadLetterObject = typeof deadLetter === "object" ? deadLetter : undefined;
  const maxAttempts = deadLetterObject?.max_attempts ?? data.max_attempts;
  return {
    maxAttempts,
    backoff: {
      initialMs: durationField(entry, "backoff.initial", data.backoff.initial),
      factor: data.backoff.factor,
      maxMs: durationField(entry, "backoff.max", data.backoff.max),
      jitter: data.backoff.jitter,
    },
    deadLetterQueueId: deadLetterRef === undefined ? undefined : resolveId(deadLetterRef, entry.namespace),
    keepDeadLetters: deadLetterObject?.keep ?? false,
  };
}

/**
 * `attempts` is the failed delivery's count (1 on the first). Below the limit the message is retried
 * after a growing delay, never at once in a loop; at the limit it is dead-lettered or buried.
 */
export function decideFailure(policy: RetryPolicy, attempts: number, random: () => number = Math.random): FailureDecision {
  if (attempts < policy.maxAttempts) return { action: "retry", delayMs: backoffDelay(policy.backoff, attempts, random) };
  if (policy.deadLetterQueueId !== undefined) return { action: "dead_letter", queueId: policy.deadLetterQueueId };
  return { action: "bury" };
}

/** The original headers plus why, after how many attempts, from where and when (unix seconds) it died. */
export function deadLetterHeaders(message: QueueMessage, reason: string, originalQueueId: string, failedAt: Date): Headers {
  return {
    ...message.headers,
    x_dead_reason: reason,
    x_attempts: message.attempts,
    x_original_queue: originalQueueId,
    x_failed_at: Math.floor(failedAt.getTime() / 1000),
  };
}

function durationField(entry: Entry, field: string, value: string | number): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new TaskrtError("E_QUEUE_BACKOFF", `entry ${entry.id}: ${field} ${errorMessage(error)}`, {
      entryId: entry.id,
      location: entry.locate(field.split(".")),
      hint: 'write a duration such as "500ms" or "10s"',
      cause: error,
    });
  }
}
