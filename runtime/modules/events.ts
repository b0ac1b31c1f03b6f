/**
 * @module modules/events — the runtime's event bus for handlers, as Wippy's `events`: `send`
 * publishes an event (best effort: no subscriber, no error); `subscribe` returns a subscription
 * whose `receive()` waits for the next matching event. A subscription buffers what arrives while
 * nobody waits, up to SUBSCRIPTION_BUFFER events (then the oldest are dropped), and ends with
 * `close()` — or, for a Lua handler, when its call ends.
 */
import { TaskrtError } from "../errors.ts";
import type { BusEvent, EventBus } from "../contracts/process-services.ts";
import { useModule } from "./context.ts";

export type { BusEvent };

/** Events a subscription holds for a reader that has not asked yet. */
export const SUBSCRIPTION_BUFFER = 1024;

function bus(): EventBus {
  const context = useModule("events");
  const found = context.services.events;
  if (!found) throw new TaskrtError("E_EVENTS_UNAVAILABLE", "events: this runtime has no event bus");
  return found;
}

function required(value: unknown, what: string, call: string): string {
  if (typeof value !== "string" || value === "") throw new TaskrtError("E_EVENTS_INVALID", `events.${call}: ${what} is empty`);
  return value;
}

export class Subscription {
  private readonly buffered: BusEvent[] = [];
  private readonly waiting: ((event: BusEvent | undefined) => void)[] = [];
  private unsubscribe: (() => void) | undefined;
  /** Events dropped because the buffer was full. */
  dropped = 0;

  constructor(eventBus: EventBus, system: string, kind: string | undefined) {
    this.unsubscribe = eventBus.subscribe(system, kind, (event) => this.deliver(event));
  }

  get closed(): boolean {
    return this.unsubscribe === undefined;
  }

  private deliver(event: BusEvent): void {
    const copy = structuredClone(event);
    const reader = this.waiting.shift();
    if (reader) return reader(copy);
    if (this.buffered.length >= SUBSCRIPTION_BUFFER) {
      this.buffered.shift();
      this.dropped++;
    }
    this.buffered.push(copy);
  }

  /** The next event; undefined once the subscription is closed and its buffer drained. */
  receive(): Promise<BusEvent | undefined> {
    const next = this.buffered.shift();
    if (next || this.closed) return Promise.resolve(next);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Stops delivery; buffered events can still be received. Safe to call twice. */
  close(): boolean {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const reader of this.waiting.splice(0)) reader(undefined);
    return true;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<BusEvent> {
    for (let event = await this.receive(); event; event = await this.receive()) yield event;
  }
}

export const events = {
  /** Publishes `{system, kind, path, data}`; `data` is left out when undefined. */
  send(system: string, kind: string, path: string, data?: unknown): true {
    const eventBus = bus();
    const event: BusEvent = { system: required(system, "the system", "send"), kind: required(kind, "the kind", "send"), path: required(path, "the path", "send") };
    if (data !== undefined && data !== null) event.data = data;
    eventBus.send(event);
    return true;
  },
  /** `system` may end in `*` (`orders.*`); without `kind` every kind of that system comes. */
  subscribe(system: string, kind?: string): Subscription {
    const eventBus = bus();
    return new Subscription(eventBus, required(system, "the system", "subscribe"), kind === undefined || kind === "" ? undefined : kind);
  },
};
