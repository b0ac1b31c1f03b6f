/**
 * @module queue/message-scope — the single-shot settlement a consumer hands its handler as
 * `queue.message()`: the first of ack, nack or the runtime's own settlement wins, later ones throw.
 */
import { TaskrtError } from "../errors.ts";
import type { Delivery } from "../drivers/queue/driver.ts";
import type { MessageScope } from "../modules/context.ts";

/**
 * `nack` is the queue's failure policy (retry, dead-letter or bury), not a bare requeue.
 * `progressRefusal` says why the queue's driver keeps no progress, when it keeps none.
 */
export function createMessageScope(delivery: Delivery, nack: () => Promise<void>, progressRefusal?: string): MessageScope {
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
    async progress(value) {
      if (!delivery.progress) {
        throw new TaskrtError("E_QUEUE_UNSUPPORTED", `message ${delivery.message.id}: progress cannot be recorded: ${progressRefusal ?? "its queue's driver keeps none"}`);
      }
      if (scope.settled !== undefined) {
        throw new TaskrtError("E_ALREADY_SETTLED", `message ${delivery.message.id} is already settled (${scope.settled}); progress refused`, {
          hint: "report progress while the handler works, before it settles the message",
        });
      }
      await delivery.progress(value);
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
