/**
 * @module handlers/lua/workers/protocol — the messages between the main thread and a Lua worker,
 * and the shared control block through which the main thread watches and stops Lua code that
 * no message can reach (a worker busy in a loop does not read its messages).
 */

import type { LogFields, LogLevel } from "../../../logger.ts";
import type { HttpResponseData } from "../../../modules/context.ts";
import type { ProcessFromWorker, ProcessToWorker } from "../process/messages.ts";

/** What a worker needs to load an entry's source into a state of its own. */
export interface EntrySpec {
  /** Unique per start of the entry: a restarted entry gets a new key, so stale states are never used. */
  key: number;
  entryId: string;
  code: string;
  fileName?: string;
  modules: string[];
  method: string;
  maxRunMs: number;
  memoryLimit: number;
}

/** A class the main thread serves: the worker builds a metatable of stubs from it. */
export interface ClassShape {
  name: string;
  methods: string[];
}

export interface SerializedError {
  code?: string;
  message: string;
  stack?: string;
  entryId?: string;
  hint?: string;
}

/** An endpoint call's request, sent with the call: the `http` module runs in the worker. */
export interface HttpSnapshot {
  method: string;
  path: string;
  /** Unparsed: the worker parses it only if the handler reads it. */
  url: string;
  params: Record<string, string>;
  /** Names and values alternating, as received. */
  headers: readonly string[];
  body: Uint8Array | undefined;
  remoteAddr: string;
  maxJsonDepth: number;
  bodyCheckedAsJson: boolean;
  response: HttpResponseData;
}

export type ToWorker =
  | { t: "init"; control: SharedArrayBuffer; classes: ClassShape[]; modules: Record<string, unknown> }
  | { t: "load"; spec: EntrySpec }
  | { t: "unload"; key: number }
  | { t: "call"; id: number; key: number; args: unknown[]; http?: HttpSnapshot }
  | { t: "cancel"; id: number; error: SerializedError }
  | { t: "reply"; rpc: number; values?: unknown[]; raise?: string }
  | { t: "process"; m: ProcessToWorker };

export type FromWorker =
  | { t: "loaded"; key: number; error?: SerializedError }
  | { t: "done"; id: number; value?: unknown; error?: SerializedError; response?: HttpResponseData }
  | { t: "rpc"; rpc: number; id: number; key: number; fn: string; args: unknown[]; types: number[]; where: string }
  | { t: "log"; id: number; key: number; level: LogLevel; text: string; fields?: LogFields }
  | { t: "released"; ids: number[] }
  | { t: "ready" }
  | { t: "process"; m: ProcessFromWorker };

/** Int32 slots of the control block. */
export const CONTROL = {
  /** The tag of the call whose Lua code runs now; -1 for code outside calls (a source loading); 0 when idle. */
  RUNNING: 0,
  /** The tag of a call the main thread wants stopped. */
  STOP: 1,
} as const;
/** Byte offset of the Float64 that holds when the running stretch began (performance.timeOrigin + now()). */
export const STARTED_AT_BYTE = 16;
export const CONTROL_BYTES = 24;

/** A clock both threads read alike. */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}
