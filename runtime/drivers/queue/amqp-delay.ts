/**
 * @module drivers/queue/amqp-delay — where a delayed or retried message waits on the broker: one
 * delay queue per queue and per rounded delay, whose queue-wide TTL dead-letters each message back
 * into its queue when the delay is over.
 *
 * Why one queue per rounded delay rather than one delay queue with per-message TTLs: RabbitMQ only
 * expires messages at the head of a queue, so a message delayed an hour would hold back every
 * 1-second retry queued behind it. With a single TTL per queue, the head always expires first and
 * nothing waits longer than its own delay. Delays are rounded UP to 16 steps per doubling (at most
 * 6.25% late, never early) so retries with jittered backoff share a handful of queues.
 *
 * The delay queues are quorum queues with at-least-once dead-lettering: the broker moves an
 * expired message into the main queue with an internal publisher confirm, so a broker crash at
 * that moment cannot lose it (classic queues dead-letter at most once). They expire on their own
 * (`x-expires`) once unused, after their TTL plus a margin; a driver re-declares a delay queue it
 * publishes to at least every half margin, which keeps it alive while it can hold a message.
 */

/** Steps per doubling of the delay: 16 keeps a rounded delay within 6.25% of the asked one. */
const STEPS_PER_DOUBLING_BITS = 4;

/** How long an idle delay queue outlives the longest time a message can spend in it. */
export const DELAY_QUEUE_EXPIRY_MARGIN_MS = 60_000;

/** A driver re-declares a delay queue before publishing to it when its last declare is older than this. */
export const DELAY_QUEUE_RENEW_MS = DELAY_QUEUE_EXPIRY_MARGIN_MS / 2;

/** The delay actually applied: `delayMs` rounded up to 16 steps per doubling, in whole milliseconds. */
export function roundDelay(delayMs: number): number {
  const whole = Math.ceil(delayMs);
  if (whole <= 1 << STEPS_PER_DOUBLING_BITS) return Math.max(1, whole);
  const step = 2 ** (Math.floor(Math.log2(whole)) - STEPS_PER_DOUBLING_BITS);
  return Math.ceil(whole / step) * step;
}

/** `tasks.delay.1024` holds the messages of broker queue `tasks` that wait 1024ms. */
export function delayQueueName(brokerQueue: string, roundedDelayMs: number): string {
  return `${brokerQueue}.delay.${roundedDelayMs}`;
}

/** Arguments of a delay queue; every process computes the same ones, so re-declaring never conflicts. */
export function delayQueueArguments(brokerQueue: string, roundedDelayMs: number): Record<string, string | number> {
  return {
    "x-queue-type": "quorum",
    "x-message-ttl": roundedDelayMs,
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": brokerQueue,
    "x-dead-letter-strategy": "at-least-once",
    // at-least-once dead-lettering requires it; a delay queue is never full in practice.
    "x-overflow": "reject-publish",
    "x-expires": roundedDelayMs + DELAY_QUEUE_EXPIRY_MARGIN_MS,
  };
}

interface KnownDelayQueue {
  queueName: string;
  ttl: number;
  /** When this process last declared it, on connection `generation`: it exists at least until then + TTL + margin. */
  declaredAt: number;
  generation: number;
  declaring?: Promise<void>;
}

/**
 * The delay queues one driver has used: declared once per connection and again every
 * DELAY_QUEUE_RENEW_MS (concurrent publishes share one declare), and counted by `stats` while
 * they are sure to exist (after that they may have expired, and hold nothing this process put there).
 */
export class DelayQueues {
  private readonly known = new Map<string, KnownDelayQueue>();

  /** The delay queue's name once it is declared; `declare` runs only when needed. */
  async declared(
    queueName: string,
    brokerQueue: string,
    ttl: number,
    generation: number,
    declare: (name: string, args: Record<string, string | number>) => Promise<void>,
  ): Promise<string> {
    const name = delayQueueName(brokerQueue, ttl);
    const known = this.known.get(name);
    if (known?.declaring) {
      await known.declaring;
      return name;
    }
    if (known && known.generation === generation && Date.now() - known.declaredAt < DELAY_QUEUE_RENEW_MS) return name;
    const entry: KnownDelayQueue = known ?? { queueName, ttl, declaredAt: 0, generation: -1 };
    entry.declaring = declare(name, delayQueueArguments(brokerQueue, ttl)).then(
      () => {
        entry.declaredAt = Date.now();
        entry.generation = generation;
        entry.declaring = undefined;
      },
      (error: unknown) => {
        this.known.delete(name);
        throw error;
      },
    );
    this.known.set(name, entry);
    await entry.declaring;
    return name;
  }

  /** The delay queues of `queueName` sure to exist now (a passive declare of a missing one would fail). */
  countable(queueName: string, generation: number, now: number): string[] {
    const names: string[] = [];
    for (const [name, known] of this.known) {
      if (known.queueName !== queueName || known.declaring || known.generation !== generation) continue;
      if (now < known.declaredAt + known.ttl + DELAY_QUEUE_EXPIRY_MARGIN_MS - DELAY_QUEUE_RENEW_MS) names.push(name);
    }
    return names;
  }

  /** Forgets a delay queue found missing on the broker; false when it was not one of ours. */
  forget(name: string): boolean {
    return this.known.delete(name);
  }

  /** Every delay queue this driver declared, whether or not it has expired since. */
  names(): string[] {
    return [...this.known.keys()];
  }
}
