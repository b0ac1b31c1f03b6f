/**
 * @module handlers/lua/process/messages — what a process receives (deliveries), and the messages
 * about processes between the Lua workers and the main thread, which routes between workers and
 * keeps the names, monitors and links.
 */
import type { EntrySpec } from "../workers/protocol.ts";

/** The outcome of a process, as EXIT and LINK_DOWN events carry it. */
export interface ProcessResult {
  value?: unknown;
  error?: string;
}

/** Wippy's values of `process.event.CANCEL`, `EXIT` and `LINK_DOWN`. */
export const EVENT = { CANCEL: "pid.cancel", EXIT: "pid.exit", LINK_DOWN: "pid.link.down" } as const;

export interface ProcessEvent {
  kind: (typeof EVENT)[keyof typeof EVENT];
  from: string;
  result?: ProcessResult;
  reason?: string;
}

/** A message for the inbox, an event for the events channel, or the order to end now. */
export type Delivery =
  | { k: "m"; topic: string; from: string | undefined; payload: unknown }
  | { k: "e"; event: ProcessEvent }
  | { k: "x"; reason: string }
  /** What a feed's method answered (see natives.ts `feed`); stays in its worker, never posted. */
  | { k: "f"; id: number; values: unknown };

/** Main thread → worker. */
export type ProcessToWorker =
  | { t: "hello"; tag: number; hosts: string[]; entries: ProcessEntrySpec[]; names: Record<string, string> }
  | { t: "declare"; entry: ProcessEntrySpec; hosts: string[] }
  | { t: "forget"; entryId: string }
  | { t: "start"; pid: string; entryId: string; args: unknown[] }
  | { t: "deliver"; pid: string; delivery: Delivery }
  /** A linked process failed: LINK_DOWN if the process traps links, else it ends too. */
  | { t: "link-down"; pid: string; from: string; result: ProcessResult }
  | { t: "names"; names: Record<string, string | null> }
  | { t: "answer"; request: number; ok: boolean; error?: string; kind?: string };

/** Worker → main thread. */
export type ProcessFromWorker =
  | { t: "spawned"; pid: string; entryId: string; parent?: string; monitor: boolean; link: boolean }
  | { t: "exited"; pid: string; result: ProcessResult }
  | { t: "route"; to: string; delivery: Delivery }
  | { t: "control"; from: string | undefined; operation: "cancel" | "terminate" | "monitor" | "unmonitor" | "link" | "unlink"; to: string; reason?: string }
  | { t: "register"; request: number; name: string; pid: string }
  | { t: "unregister"; request: number; name: string; pid: string | undefined };

/** A process.lua entry as workers know it: enough to load its source there. */
export type ProcessEntrySpec = EntrySpec;

/** `{app:processes|w3.17}`: the host it was spawned on, and where it lives (worker 3). */
export function formatPid(host: string, workerTag: number, serial: string | number): string {
  return `{${host}|w${workerTag}.${serial}}`;
}

/** The worker tag a pid names, or undefined when it is no pid of ours. */
export function workerOfPid(pid: string): number | undefined {
  const match = /\|w(\d+)\.[^|{}]+\}$/.exec(pid);
  return match ? Number(match[1]) : undefined;
}

export function isPid(text: string): boolean {
  return text.startsWith("{") && workerOfPid(text) !== undefined;
}
