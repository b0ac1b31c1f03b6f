/**
 * @module modules/event-bus — the runtime's in-memory publish/subscribe bus (Wippy's event bus):
 * best effort, synchronous fan-out to every subscription whose system pattern and kind match.
 * A subscriber that throws is logged and skipped; the sender never sees it.
 */
import { errorMessage } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { BusEvent, EventBus } from "../contracts/process-services.ts";

interface Subscription {
  system: string;
  kind: string | undefined;
  deliver(event: BusEvent): void;
}

/** `orders.*` matches `orders.eu` and `orders.eu.north`; `*` matches every system; anything else matches itself. */
export function systemMatches(pattern: string, system: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) return system.startsWith(pattern.slice(0, -1));
  if (pattern.endsWith("*")) return system.startsWith(pattern.slice(0, -1));
  return pattern === system;
}

export class MemoryEventBus implements EventBus {
  private readonly subscriptions = new Set<Subscription>();

  constructor(private readonly logger?: Logger) {}

  send(event: BusEvent): void {
    for (const subscription of [...this.subscriptions]) {
      if (!systemMatches(subscription.system, event.system)) continue;
      if (subscription.kind !== undefined && subscription.kind !== event.kind) continue;
      try {
        subscription.deliver(event);
      } catch (error) {
        this.logger?.warn("an event subscriber failed", { system: event.system, kind: event.kind, error: errorMessage(error) });
      }
    }
  }

  subscribe(system: string, kind: string | undefined, deliver: (event: BusEvent) => void): () => void {
    const subscription: Subscription = { system, kind, deliver };
    this.subscriptions.add(subscription);
    return () => void this.subscriptions.delete(subscription);
  }

  get subscriberCount(): number {
    return this.subscriptions.size;
  }
}
