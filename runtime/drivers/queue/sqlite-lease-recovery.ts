/**
 * @module drivers/queue/sqlite-lease-recovery — takes back at once the leases of processes that
 * provably died (see sqlite-owner-lock), instead of letting their messages wait out `ack_timeout`.
 *
 * A pass over one queue reads which owner processes hold its leases, probes each one's lock, and
 * turns the leases of the dead ones back into ready messages, as an expired lease would be (the
 * attempt stays counted; the last error says the process died). Live owners' leases are left
 * alone. The driver runs a pass when a consumer starts on a queue (a restarted process finds its
 * predecessor's leases) and at most once per poll interval while the queue is consumed (a process
 * sharing the file finds a sibling that died).
 */
import { errorMessage } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import { ownerIsDead, type OwnerLock } from "./sqlite-owner-lock.ts";
import type { QueueStatements } from "./sqlite-schema.ts";

export interface LeaseRecoveryHost {
  readonly statements: QueueStatements;
  /** Runs `work` in a write transaction of the driver's storage. */
  inTransaction(work: () => number): number | Promise<number>;
  /** Leases of `queueName` came back: its local consumers should fetch. */
  recovered(queueName: string): void;
  readonly logger: Logger;
}

export class LeaseRecovery {
  /** One pass per queue at a time: a pass started while one runs shares its result. */
  private readonly running = new Map<string, Promise<number>>();

  constructor(
    private readonly lock: OwnerLock,
    private readonly host: LeaseRecoveryHost,
  ) {}

  /** Resolves with the number of leases taken back; never rejects (a failed pass leaves the leases to expire). */
  recover(queueName: string): Promise<number> {
    let pass = this.running.get(queueName);
    if (!pass) {
      pass = this.pass(queueName).finally(() => this.running.delete(queueName));
      this.running.set(queueName, pass);
    }
    return pass;
  }

  private async pass(queueName: string): Promise<number> {
    try {
      const { statements } = this.host;
      const dead = statements.leaseHolders
        .all(queueName)
        .map((row) => row.owner)
        .filter((owner) => owner !== this.lock.owner && ownerIsDead(this.lock.directory, owner));
      if (dead.length === 0) return 0;
      const taken = await this.host.inTransaction(() => {
        let changes = 0;
        for (const owner of dead) changes += statements.reclaimFromDead.run(queueName, `${owner}/*`).changes;
        return changes;
      });
      if (taken > 0) {
        this.host.logger.info(`took back ${taken} leased message${taken === 1 ? "" : "s"} from a process that died, without waiting for ack_timeout`, {
          queue: queueName,
          owners: dead.join(", "),
        });
        this.host.recovered(queueName);
      }
      return taken;
    } catch (error) {
      this.host.logger.warn("could not check for leases held by processes that died; their messages are delivered again once the leases expire", {
        queue: queueName,
        error: errorMessage(error),
      });
      return 0;
    }
  }
}
