/**
 * @module handlers/lua/modules/queue — Lua's `queue` module (Wippy's API) over the TypeScript
 * `queue` module: `publish(id, data, headers?)` → `true` or `nil, err`; `message()` → the
 * delivery's message, whose methods stop working once the handler returns; taskrt's additions
 * `pause(id)`, `resume(id)` → `true` or `nil, err`, `is_paused(id)` → boolean, and `unique_key`
 * (with `unique_for`) among publish's headers: `false` when the publish was dropped as a duplicate.
 *
 * A publish while the call has a transaction open (`db:begin()`) runs inside it, as a TypeScript
 * handler's inside `transaction(fn)`: a memory queue's message is admitted once `tx:commit()`
 * committed (the commit returns when it is in the queue) and discarded, its unique key freed, by a
 * rollback; a SQLite queue on that database writes it in the transaction.
 */
import { TaskrtError } from "../../../errors.ts";
import { queue, type Headers, type Message } from "../../../modules/queue.ts";
import { defineLuaClass, handle, type LuaClass, type LuaMethod } from "../handles.ts";
import { defineLuaModule } from "../module.ts";
import type { LuaArguments, NativeFunction, NativeResult } from "../native.ts";
import { LUA_TYPE } from "../wasm.ts";
import { inCallTransaction } from "./call-transactions.ts";

interface MessageState {
  message: Message;
  released: boolean;
}

/** As Wippy: the Message is only valid during the handler's call. */
function live(method: (message: Message, args: LuaArguments) => NativeResult): LuaMethod<MessageState> {
  return (self, args) => {
    if (self.released) throw new TaskrtError("E_RELEASED", "queue.Message released: it is valid only while its handler runs");
    return method(self.message, args);
  };
}

const MessageClass: LuaClass<MessageState> = defineLuaClass<MessageState>("queue.Message", "msg", {
  id: live((message) => [message.id()]),
  header: live((message, args) => [message.header(args.string(2))]),
  headers: live((message) => [message.headers()]),
  attempts: live((message) => [message.attempts()]),
  body: live((message) => [message.body()]),
  ack: live((message) => message.ack().then(() => [true])),
  nack: live((message) => message.nack().then(() => [true])),
  progress: live((message, args) => message.progress(args.value(2, { emptyTable: "object" }) as number).then(() => [true])),
});

const QUEUE: Record<string, NativeFunction> = {
  publish: (args) => {
    const queueId = args.string(1);
    const data = args.value(2);
    let headers: Headers | undefined;
    if (args.type(3) === LUA_TYPE.TABLE) headers = args.value(3, { emptyTable: "object" }) as Headers;
    else if (!args.isNil(3)) throw new TaskrtError("E_LUA_ARGUMENT", `bad argument #3 to 'publish' (table of headers expected, got ${args.typeName(3)})`);
    // taskrt's addition: `unique_key` (and `unique_for`) in the headers deduplicate; a dropped duplicate returns false.
    const { unique_key: uniqueKey, unique_for: uniqueFor, ...rest } = headers ?? {};
    if (uniqueKey !== undefined) {
      if (typeof uniqueKey !== "string") throw new TaskrtError("E_LUA_ARGUMENT", `bad argument #3 to 'publish' (unique_key must be a string, got ${typeof uniqueKey})`);
      if (uniqueFor !== undefined && typeof uniqueFor === "boolean") throw new TaskrtError("E_LUA_ARGUMENT", "bad argument #3 to 'publish' (unique_for must be a duration)");
      const settings = { headers: rest, unique_key: uniqueKey, ...(uniqueFor === undefined ? {} : { unique_for: uniqueFor as string | number }) };
      return inCallTransaction(args.call, () => queue.publish(queueId, data, settings)).then((outcome) => [!outcome.duplicate]);
    }
    return inCallTransaction(args.call, () => queue.publish(queueId, data, headers === undefined ? undefined : { headers })).then(() => [true]);
  },
  pause: (args) => queue.pause(args.string(1)).then(() => [true]),
  resume: (args) => queue.resume(args.string(1)).then(() => [true]),
  is_paused: (args) => queue.isPaused(args.string(1)).then((paused) => [paused]),
  message: (args) => {
    const state: MessageState = { message: queue.message(), released: false };
    args.call?.defer(() => (state.released = true));
    return [handle(MessageClass, state)];
  },
};

export default defineLuaModule("queue", () => QUEUE);
