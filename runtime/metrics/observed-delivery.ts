/**
 * @module metrics/observed-delivery — a delivery that reports how the queue's failure policy
 * settled it (retried, or dead-lettered: moved to the dead-letter queue or buried as dead), so the
 * consumer can count the outcome without the queue having to return it.
 */
import type { Delivery } from "../drivers/queue/driver.ts";

export interface FailureOutcomes {
  retried(): void;
  deadLettered(): void;
}

/** Counts once the driver has taken the settlement; a settlement that throws is not counted. */
export function observeFailedDelivery(delivery: Delivery, outcomes: FailureOutcomes): Delivery {
  return {
    message: delivery.message,
    async retry(delayMs, error) {
      await delivery.retry(delayMs, error);
      outcomes.retried();
    },
    // Inside the failure policy, an ack follows the publish to the dead-letter queue.
    async ack() {
      await delivery.ack();
      outcomes.deadLettered();
    },
    async bury(error) {
      await delivery.bury(error);
      outcomes.deadLettered();
    },
    release: () => delivery.release(),
  };
}
