/**
 * @module handlers/lua/modules/funcs — Lua's `funcs` module (Wippy's API) over the TypeScript
 * `funcs` module: `funcs.call(id, …)` → `result, err`; `funcs.async(id, …)` → a Future whose
 * `:response()` (or `:channel()`) gives a channel (of the process model, usable in
 * `channel.select`): `payload, ok = ch:receive()` waits for the call, and `payload:data()` is its
 * result; the channel closes after it, or at once when the call fails.
 */
import { TaskrtError } from "../../../errors.ts";
import { Executor, Future, funcs, type ExecutorOptions } from "../../../modules/funcs.ts";
import { toLuaError } from "../errors.ts";
import { defineLuaClass, handle, type LuaClass } from "../handles.ts";
import { defineLuaModule } from "../module.ts";
import type { LuaArguments, NativeFunction } from "../native.ts";
import { LUA_TYPE } from "../wasm.ts";

/** Arguments from `first` on, as the called function receives them. */
function rest(args: LuaArguments, first: number): unknown[] {
  const values: unknown[] = [];
  for (let position = first; position <= args.count; position++) values.push(args.value(position));
  return values;
}

function tableArgument(args: LuaArguments, position: number, what: string): Record<string, unknown> {
  if (args.type(position) !== LUA_TYPE.TABLE) {
    throw new TaskrtError("E_LUA_ARGUMENT", `bad argument #${position - 1} to '${what}' (table expected, got ${args.typeName(position)})`);
  }
  return args.value(position, { emptyTable: "object" }) as Record<string, unknown>;
}

/** A call's result, as Wippy hands it over: `payload:data()`. */
const PayloadClass: LuaClass<{ value: unknown }> = defineLuaClass<{ value: unknown }>("funcs.Payload", "payload", {
  data: (self) => [self.value],
});

const receive = (self: Future) => self.settled.then((outcome) => (outcome.error ? [undefined, false] : [handle(PayloadClass, { value: outcome.value }), true]));

/** What `future:response()` returns outside the worker pool; in a worker, runtime.lua makes it a channel. */
const ReceiverClass: LuaClass<Future> = defineLuaClass<Future>("funcs.Receiver", "ch", { receive });

const FutureClass: LuaClass<Future> = defineLuaClass<Future>("funcs.Future", "future", {
  // What runtime.lua feeds the future's channel with.
  next_payload: receive,
  response: (self) => [handle(ReceiverClass, self)],
  channel: (self) => [handle(ReceiverClass, self)],
  is_complete: (self) => [self.isComplete()],
  is_canceled: (self) => [self.isCanceled()],
  result: (self) => {
    const outcome = self.result();
    if (!outcome) return [];
    return outcome.error ? [undefined, toLuaError(outcome.error)] : [handle(PayloadClass, { value: outcome.value })];
  },
  error: (self) => {
    const failed = self.result()?.error;
    return failed ? [toLuaError(failed), true] : [undefined, false];
  },
  cancel: (self) => [self.cancel()],
});

const ExecutorClass: LuaClass<Executor> = defineLuaClass<Executor>("funcs.Executor", "exec", {
  with_context: (self, args) => [handle(ExecutorClass, self.withContext(tableArgument(args, 2, "with_context")))],
  with_options: (self, args) => [handle(ExecutorClass, self.withOptions(tableArgument(args, 2, "with_options") as ExecutorOptions))],
  // Security actors and scopes: taskrt has no security model; the executor is returned as it was.
  with_actor: (self) => [handle(ExecutorClass, self)],
  with_scope: (self) => [handle(ExecutorClass, self)],
  call: (self, args) => self.call(args.string(2), ...rest(args, 3)).then((value) => [value]),
  async: (self, args) => [handle(FutureClass, self.async(args.string(2), ...rest(args, 3)))],
});

const FUNCS: Record<string, NativeFunction> = {
  new: () => [handle(ExecutorClass, funcs.new())],
  call: (args) => funcs.call(args.string(1), ...rest(args, 2)).then((value) => [value]),
  async: (args) => [handle(FutureClass, funcs.async(args.string(1), ...rest(args, 2)))],
};

export default defineLuaModule("funcs", () => FUNCS);
