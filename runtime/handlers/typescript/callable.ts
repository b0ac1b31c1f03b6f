/**
 * @module handlers/typescript/callable — runs a loaded TypeScript handler inside its call context
 * and turns a throw into a failed CallResult.
 */
import { runInContext } from "../../modules/context.ts";
import { asError, callContext, type EntryCallContext } from "../call-context.ts";
import type { Callable, CallResult, CallScope } from "../handler.ts";
import type { HandlerFunction } from "./load.ts";

export function createTypeScriptCallable(base: EntryCallContext, handler: HandlerFunction): Callable {
  return {
    entryId: base.entryId,
    call(args: readonly unknown[], scope?: CallScope): Promise<CallResult> {
      return runInContext(callContext(base, scope), async () => {
        try {
          return { value: await handler(...args) };
        } catch (thrown) {
          return { value: undefined, error: asError(thrown) };
        }
      });
    },
  };
}
