/**
 * @module handlers/handler — the contract between the kinds that call code (endpoints, consumers,
 * process services) and the languages that run it (TypeScript, Lua). One shape for both.
 */
import type { CallContext } from "../modules/context.ts";

/** What a caller supplies per call; the callable adds entry id, modules, services and logger. */
export type CallScope = Pick<CallContext, "http" | "message" | "signal" | "terminal"> & {
  /** A process.service's call: the host it runs on, and how long a CANCEL may take once `signal` fires. */
  process?: { host: string; stopTimeoutMs: number };
};

/**
 * The outcome of a call, in one shape for both languages. `error` is set when the handler failed:
 * a throw in TypeScript; `error(...)` or `return nil, err` in Lua.
 */
export interface CallResult {
  value: unknown;
  error?: Error;
}

/** A function or process entry, ready to call. */
export interface Callable {
  readonly entryId: string;
  call(args: readonly unknown[], scope?: CallScope): Promise<CallResult>;
}

/** A `function.*` or `process.*` entry's component offers `callable()` (loaded at start). */
export interface CallableComponent {
  callable(): Callable;
}

export function isCallableComponent(value: unknown): value is CallableComponent {
  return typeof (value as CallableComponent | undefined)?.callable === "function";
}
