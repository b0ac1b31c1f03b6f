/**
 * @module queue/message-scope — the single-shot settlement a consumer hands its handler as
 * `queue.message()`: the first of ack, nack or the runtime's own settlement wins, later ones throw.
 */
import { TaskrtError } from "../errors.ts";
import type { Delivery } from "../drivers/queue/driver.ts";
import type { MessageScope } from "../modules/context.ts";

/** `nack` is the queue's failure policy (retry, dead-letter or bury), not a bare requeue. */
export function createMessageScope(delivery: Delivery, nack: () => Promise<void>): MessageScope {
  const scope: MessageScope = {
    message: delivery.message,
    settled: undefined,
    async ack() {
      claimSettlement(scope, "ack");
      await delivery.ack();
    },
    async nack() {
      claimSettlement(scope, "nack");
      await nack();
    },
  };
  return scope;
}

/** Marks the scope settled, or throws if something settled it first. */
export function claimSettlement(scope: MessageScope, how: "ack" | "nack"): void {
  if (scope.settled !== undefined) {
    throw new TaskrtError("E_ALREADY_SETTLED", "message already settled", {
      hint: "call ack() or nack() at most once; once the handler returns, the runtime has settled the message",
    });
  }
  scope.settled = how;
}
