/**
 * @module handlers/lua/callable — a Lua entry's method as a Callable: each call runs inside the
 * entry's call context, which the module functions Lua calls read.
 */
import { runInContext } from "../../modules/context.ts";
import { callContext, type EntryCallContext } from "../call-context.ts";
import type { Callable, CallResult, CallScope } from "../handler.ts";
import type { LuaEngine, LuaMethod } from "./engine.ts";

export function createLuaCallable(base: EntryCallContext, engine: LuaEngine, method: LuaMethod): Callable {
  return {
    entryId: base.entryId,
    call(args: readonly unknown[], scope?: CallScope): Promise<CallResult> {
      return runInContext(callContext(base, scope), () => engine.callMethod(method, args, scope?.signal));
    },
  };
}
