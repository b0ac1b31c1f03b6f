/**
 * @module handlers/lua/modules/events — Lua's `events` module (Wippy's API) over the TypeScript
 * `events` module: `events.send(system, kind, path, data?)` → `true`; `events.subscribe(system,
 * kind?)` → a subscription whose `:channel()` gives a receiver: `evt, ok = ch:receive()` waits
 * for the next event (`evt.system`, `evt.kind`, `evt.path`, `evt.data`), `nil, false` once closed.
 * In a call on the worker pool that receiver is a channel of the process model (runtime.lua), so it
 * works in `channel.select`. A subscription closes with `sub:close()` or when the call — or the
 * process — that made it ends.
 */
import { events, Subscription } from "../../../modules/events.ts";
import { defineLuaClass, handle, type LuaClass } from "../handles.ts";
import { defineLuaModule } from "../module.ts";
import type { NativeFunction } from "../native.ts";

const receive = (self: Subscription) => self.receive().then((event) => (event ? [event, true] : [undefined, false]));

/** The receiver of an engine outside the worker pool; in a worker, runtime.lua makes `:channel()` a channel. */
const ReceiverClass: LuaClass<Subscription> = defineLuaClass<Subscription>("events.Receiver", "ch", { receive });

const SubscriptionClass: LuaClass<Subscription> = defineLuaClass<Subscription>("events.Subscription", "sub", {
  channel: (self) => [handle(ReceiverClass, self)],
  close: (self) => [self.close()],
  // What runtime.lua feeds the subscription's channel with.
  next_event: receive,
});

const EVENTS: Record<string, NativeFunction> = {
  send: (args) => [events.send(args.string(1), args.string(2), args.string(3), args.value(4))],
  subscribe: (args) => {
    const subscription = events.subscribe(args.string(1), args.isNil(2) ? undefined : args.string(2));
    args.call?.defer(() => subscription.close());
    return [handle(SubscriptionClass, subscription)];
  },
};

export default defineLuaModule("events", () => EVENTS);
