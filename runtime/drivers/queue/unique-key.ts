/**
 * @module drivers/queue/unique-key — the check every driver makes of a deduplication key before
 * publishing with it, so all refuse a bad one in the same words.
 */
import { TaskrtError } from "../../errors.ts";
import type { UniquePublishOptions } from "./driver.ts";

/** Longer keys are more likely a whole payload than a key. */
export const MAX_UNIQUE_KEY_LENGTH = 512;

export function uniqueKeyOf(driverId: string, queueName: string, options: UniquePublishOptions): string {
  const key = options.uniqueKey;
  if (typeof key === "string" && key.length > 0 && key.length <= MAX_UNIQUE_KEY_LENGTH) return key;
  throw new TaskrtError(
    "E_QUEUE_OPTIONS",
    `queue driver ${driverId}: unique_key for queue "${queueName}" must be a non-empty string of at most ${MAX_UNIQUE_KEY_LENGTH} characters, found ${typeof key === "string" ? `${key.length} characters` : String(key)}`,
    { entryId: driverId, hint: "derive the key from what makes two messages the same, e.g. `report:${customerId}:${day}`" },
  );
}
