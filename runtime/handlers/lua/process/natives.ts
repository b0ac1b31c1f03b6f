/**
 * @module handlers/lua/process/natives — the host functions under runtime.lua's `process`,
 * channels' timers and the scheduler's waits. They reach the processes through a bridge: a Lua
 * worker installs one that knows its processes (worker-host.ts); without it (an engine of its own,
 * in tests) a call is no process, can wait only for its timers, and cannot spawn or send.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { TaskrtError } from "../../../errors.ts";
import type { LuaHandle } from "../handles.ts";
import type { LuaArguments, NativeFunction, NativeValues } from "../native.ts";
import { LUA_TYPE } from "../wasm.ts";
import { durationMilliseconds, timeHandle } from "../modules/time.ts";
import type { Delivery } from "./messages.ts";
import { sleepLong } from "../../../timers.ts";

export type Waited = Delivery[] | Promise<Delivery[]>;

/** What a worker offers the Lua side of its processes; `tag` names the running call. */
export interface ProcessBridge {
  pid(tag: number): string | undefined;
  /** Deliveries for the process, waiting up to `timeoutMs` (forever when undefined) for the first. */
  wait(tag: number, timeoutMs: number | undefined, signal: AbortSignal | undefined): Waited;
  send(tag: number, destination: string, topic: string, payload: unknown): NativeValues;
  spawn(tag: number, callerEntry: string, id: string, host: string, monitor: boolean, link: boolean, args: unknown[]): NativeValues;
  control(tag: number, operation: ControlOperation, destination: string, reason: string | undefined): NativeValues;
  trapLinks(tag: number, value: boolean | undefined): boolean;
  register(tag: number, name: string, pid: string | undefined): NativeValues | Promise<NativeValues>;
  lookup(name: string): NativeValues;
  unregister(tag: number, name: string): NativeValues | Promise<NativeValues>;
  /** False when module objects cannot be fed into channels (an engine outside the worker pool). */
  readonly canFeed: boolean;
  /**
   * Calls `method` of the module object `target` without blocking the call: its answer arrives
   * as the delivery `{k: "f", id, values}` at the call's next wait.
   */
  feed(tag: number, id: number, target: LuaHandle, method: string, args: LuaArguments): void;
  /** Calls `target:method()` when the process `tag` ends (a subscription closes with its process). */
  own(tag: number, target: LuaHandle, method: string, args: LuaArguments): void;
}

export type ControlOperation = "cancel" | "terminate" | "monitor" | "unmonitor" | "link" | "unlink";
const CONTROLS = new Set<string>(["cancel", "terminate", "monitor", "unmonitor", "link", "unlink"]);

function noProcesses(what: string): never {
  throw new TaskrtError("E_PROCESS", `${what}: processes run on the Lua worker pool, which this engine is not part of`);
}

/** The bridge outside a worker: no process, timers only. */
const STANDALONE: ProcessBridge = {
  pid: () => undefined,
  wait: (_tag, timeoutMs, signal) => (timeoutMs === undefined ? [] : sleepFor(timeoutMs, signal)),
  send: () => noProcesses("process.send"),
  spawn: () => noProcesses("process.spawn"),
  control: (_tag, operation) => noProcesses(`process.${operation}`),
  trapLinks: () => false,
  register: () => noProcesses("process.registry.register"),
  lookup: () => noProcesses("process.registry.lookup"),
  unregister: () => noProcesses("process.registry.unregister"),
  canFeed: false,
  feed: () => noProcesses("feeding a channel"),
  own: () => {},
};

let bridge: ProcessBridge = STANDALONE;

/** A wait of a call that is no process: its timers only; cancelling the call ends it with CANCELED. */
export async function sleepFor(ms: number, signal: AbortSignal | undefined): Promise<Delivery[]> {
  try {
    await sleepLong(ms, signal);
  } catch (error) {
    throw new TaskrtError("E_CANCELED", "the call was cancelled while it waited", { cause: error });
  }
  return [];
}

export function installProcessBridge(next: ProcessBridge): void {
  bridge = next;
}

function tagOf(args: LuaArguments): number {
  return args.call?.tag ?? 0;
}

function destination(args: LuaArguments, position: number, what: string): string {
  if (args.type(position) !== LUA_TYPE.STRING) {
    throw new TaskrtError("E_LUA_ARGUMENT", `${what}: destination must be a pid or a registered name (a string), got ${args.typeName(position)}`);
  }
  return args.string(position);
}

/** Lua's view of a wait's outcome: a list of deliveries (see runtime.lua's accept). */
function waited(result: Waited): NativeValues | Promise<NativeValues> {
  if (Array.isArray(result)) return [result];
  return result.then((deliveries) => [deliveries]);
}

export const PROCESS_NATIVES: Record<string, NativeFunction> = {
  clock: () => [performance.now()],
  now: () => [timeHandle(new Date())],
  duration_ms: (args) => [durationMilliseconds(args, 1, args.type(2) === LUA_TYPE.BOOLEAN && args.value(2) === true)],
  pid: (args) => [bridge.pid(tagOf(args))],
  /** True inside a call; false while the source file itself runs. */
  in_call: (args) => [args.call !== undefined],
  wait: (args) => waited(bridge.wait(tagOf(args), args.isNil(1) ? undefined : Math.max(0, args.number(1)), args.call?.signal)),
  /** A turn of the event loop for a busy scheduler, bringing what arrived meanwhile. */
  turn: async (args) => {
    await nextTurn();
    const pending = bridge.pid(tagOf(args)) === undefined ? [] : bridge.wait(tagOf(args), 0, args.call?.signal);
    return [Array.isArray(pending) ? pending : await pending];
  },
  send: (args) => bridge.send(tagOf(args), destination(args, 1, "process.send"), args.string(2), args.value(3)),
  spawn: (args) => {
    const id = args.string(1);
    if (args.type(2) !== LUA_TYPE.STRING) throw new TaskrtError("E_LUA_ARGUMENT", `process.spawn: host must be a process.host id (a string), got ${args.typeName(2)}`);
    return bridge.spawn(tagOf(args), args.host.entryId, id, args.string(2), args.value(3) === true, args.value(4) === true, args.rest(5));
  },
  control: (args) => {
    const operation = args.string(1);
    if (!CONTROLS.has(operation)) throw new TaskrtError("E_LUA_ARGUMENT", `unknown process operation ${operation}`);
    return bridge.control(tagOf(args), operation as ControlOperation, destination(args, 2, `process.${operation}`), args.optionalString(3));
  },
  trap_links: (args) => [bridge.trapLinks(tagOf(args), args.isNil(1) ? undefined : args.value(1) === true)],
  register: (args) => bridge.register(tagOf(args), args.string(1), args.optionalString(2)),
  lookup: (args) => bridge.lookup(args.string(1)),
  unregister: (args) => bridge.unregister(tagOf(args), args.string(1)),
  can_feed: () => [bridge.canFeed],
  feed: (args) => {
    bridge.feed(tagOf(args), args.number(1), moduleObject(args, 2), args.string(3), args);
    return [true];
  },
  own: (args) => {
    bridge.own(tagOf(args), moduleObject(args, 1), args.string(2), args);
    return [true];
  },
};

function moduleObject(args: LuaArguments, position: number): LuaHandle {
  const found = args.handle(position);
  if (!found) throw new TaskrtError("E_LUA_ARGUMENT", `a module object expected, got ${args.typeName(position)}`);
  return found;
}
