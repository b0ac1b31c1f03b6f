/**
 * @module drivers/queue/retention — the background pruning of kept dead letters a driver runs for
 * the queues that declared a `retention`: once when the driver starts, then every interval while it
 * runs. Failures are logged, never thrown: pruning is housekeeping.
 */
import { errorMessage } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import type { RetentionPolicy } from "./driver.ts";

export const PRUNE_INTERVAL_MS = 60_000;

export class RetentionSchedule {
  private readonly policies = new Map<string, RetentionPolicy>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly prune: (queueName: string, policy: RetentionPolicy) => Promise<number>,
    private readonly logger: Logger,
    private readonly intervalMs = PRUNE_INTERVAL_MS,
  ) {}

  set(queueName: string, policy: RetentionPolicy): void {
    this.policies.set(queueName, policy);
  }

  /** Prunes every queue now, then every interval until `stop`. */
  async start(): Promise<void> {
    if (this.policies.size === 0) return;
    await this.pruneAll();
    this.timer ??= setInterval(() => void this.pruneAll(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async pruneAll(): Promise<void> {
    for (const [queueName, policy] of this.policies) {
      try {
        const pruned = await this.prune(queueName, policy);
        if (pruned > 0) this.logger.info(`retention: ${pruned} dead message${pruned === 1 ? "" : "s"} of queue "${queueName}" pruned`, { queue: queueName, pruned });
      } catch (error) {
        this.logger.warn(`retention: pruning the dead messages of queue "${queueName}" failed; tried again in ${Math.round(this.intervalMs / 1000)}s`, {
          queue: queueName,
          error: errorMessage(error),
        });
      }
    }
  }
}
