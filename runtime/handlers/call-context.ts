/**
 * @module handlers/call-context — the part of a handler's call context that is fixed per entry
 * (id, declared modules, services, logger), built once and shared by both handler languages.
 */
import type { Entry } from "../registry/entry.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import type { CallContext } from "../modules/context.ts";
import type { CallScope } from "./handler.ts";

export type EntryCallContext = Omit<CallContext, "http" | "message" | "signal" | "terminal">;

export function createEntryCallContext(entry: Entry, context: BuildContext): EntryCallContext {
  const modules = Array.isArray(entry.data.modules) ? (entry.data.modules as string[]) : [];
  return {
    entryId: entry.id,
    modules: new Set(modules),
    services: context.services,
    logger: context.logger.forEntry(entry.id),
  };
}

/** The full context of one call: the entry's fixed part plus what the caller supplies. */
export function callContext(base: EntryCallContext, scope: CallScope | undefined): CallContext {
  if (!scope) return base as CallContext;
  // Fields written out: an object spread here cost ~1.4µs per call on Node 20, a fifth of an HTTP request.
  // The signal is read only when asked for: a caller may create it lazily (a consumer's per-message
  // AbortController makes its signal on first read), and most handlers never listen.
  return {
    entryId: base.entryId,
    modules: base.modules,
    services: base.services,
    logger: base.logger,
    http: scope.http,
    message: scope.message,
    get signal() {
      return scope.signal;
    },
    terminal: scope.terminal,
  };
}

/** Anything thrown, as an Error (Lua and TS handlers may throw strings or objects). */
export function asError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === "string") return new Error(thrown);
  try {
    return new Error(JSON.stringify(thrown));
  } catch {
    return new Error(String(thrown));
  }
}
