/**
 * @module handlers/lua/process/worker-host — the processes of one Lua worker: each is a call of
 * its entry's method (a coroutine on the entry's state in this worker), with a pid, a mailbox the
 * scheduler in runtime.lua drains, and a trap_links flag. Spawns and sends between processes of
 * this worker stay here; everything else (other workers, names, monitors, links) goes through the
 * main thread, which answers with deliveries.
 *
 * A process: RUNNING (its call in flight; waiting on its mailbox or working) → ENDED (the call
 * returned or failed: the main thread is told, which sends EXIT and LINK_DOWN to its watchers).
 */
import { TaskrtError } from "../../../errors.ts";
import type { CallResult } from "../../handler.ts";
import type { LuaHandle } from "../handles.ts";
import type { LuaArguments, NativeValues } from "../native.ts";
import { toLuaError } from "../errors.ts";
import type { EntrySpec } from "../workers/protocol.ts";
import { EVENT, formatPid, isPid, workerOfPid, type Delivery, type ProcessFromWorker, type ProcessResult, type ProcessToWorker } from "./messages.ts";
import { sleepFor, type ControlOperation, type ProcessBridge, type Waited } from "./natives.ts";

/** Runs an entry's method as the call tagged `tag` (worker.ts: loads the entry here if it must). */
export type RunProcess = (spec: EntrySpec, args: unknown[], tag: number, signal: AbortSignal) => Promise<CallResult>;

/** Calls a module object's method on the main thread for the call `tag`, without blocking it. */
export type InvokeRemote = (target: LuaHandle, method: string, args: LuaArguments, tag: number) => Promise<NativeValues>;

/** Where a call's deliveries wait until its scheduler asks for them. */
interface Mailbox {
  mailbox: Delivery[];
  wake: ((deliveries: Delivery[]) => void) | undefined;
  timer: NodeJS.Timeout | undefined;
}

interface Process extends Mailbox {
  pid: string;
  tag: number;
  trapLinks: boolean;
  controller: AbortController;
  /** Run when the process ends: closing what it subscribed to. */
  cleanups: (() => void)[];
}

export class WorkerProcesses implements ProcessBridge {
  private tag = 0;
  private readonly hosts = new Set<string>();
  private readonly specs = new Map<string, EntrySpec>();
  private readonly names = new Map<string, string>();
  private readonly byPid = new Map<string, Process>();
  private readonly byTag = new Map<number, Process>();
  private readonly requests = new Map<number, (values: NativeValues) => void>();
  /** Process calls are tagged below -1: the main thread's call ids are positive, -1 is code outside calls. */
  private nextTag = -2;
  private serial = 0;
  private nextRequest = 1;
  /** Mailboxes of function calls (not processes) that feed channels, by call tag. */
  private readonly callMailboxes = new Map<number, Mailbox>();
  readonly canFeed = true;

  constructor(
    private readonly post: (message: ProcessFromWorker) => void,
    private readonly run: RunProcess,
    private readonly invoke: InvokeRemote,
  ) {}

  get count(): number {
    return this.byPid.size;
  }

  receive(message: ProcessToWorker): void {
    switch (message.t) {
      case "hello":
        this.tag = message.tag;
        for (const host of message.hosts) this.hosts.add(host);
        for (const spec of message.entries) this.specs.set(spec.entryId, spec);
        for (const [name, pid] of Object.entries(message.names)) this.names.set(name, pid);
        return;
      case "declare":
        this.specs.set(message.entry.entryId, message.entry);
        for (const host of message.hosts) this.hosts.add(host);
        return;
      case "forget":
        this.specs.delete(message.entryId);
        return;
      case "start": {
        const spec = this.specs.get(message.entryId);
        if (spec) this.start(message.pid, spec, message.args);
        else this.post({ t: "exited", pid: message.pid, result: { error: `${message.entryId} is not a process.lua entry this runtime has started` } });
        return;
      }
      case "deliver":
        this.deliver(message.pid, message.delivery);
        return;
      case "link-down": {
        const process = this.byPid.get(message.pid);
        if (!process) return;
        if (process.trapLinks) this.deliver(message.pid, { k: "e", event: { kind: EVENT.LINK_DOWN, from: message.from, result: message.result } });
        else this.terminate(process, `linked process ${message.from} failed: ${message.result.error ?? "unknown error"}`);
        return;
      }
      case "names":
        for (const [name, pid] of Object.entries(message.names)) {
          if (pid === null) this.names.delete(name);
          else this.names.set(name, pid);
        }
        return;
      case "answer": {
        const resolve = this.requests.get(message.request);
        this.requests.delete(message.request);
        const error = message.error && new TaskrtError(message.kind === "ALREADY_EXISTS" ? "E_NAME_TAKEN" : "E_NAME_NOT_FOUND", message.error);
        resolve?.(error ? [undefined, toLuaError(error)] : [message.ok]);
        return;
      }
    }
  }

  // ---- the bridge runtime.lua calls through ------------------------------------------------------

  pid(tag: number): string | undefined {
    return this.byTag.get(tag)?.pid;
  }

  wait(tag: number, timeoutMs: number | undefined, signal: AbortSignal | undefined): Waited {
    const process = this.byTag.get(tag);
    if (process) return waitOn(process, timeoutMs);
    const box = this.callMailboxes.get(tag);
    if (!box) return timeoutMs === undefined ? [] : sleepFor(timeoutMs, signal);
    if (box.mailbox.length > 0 || timeoutMs === 0) return box.mailbox.splice(0);
    if (signal?.aborted) return Promise.reject(new TaskrtError("E_CANCELED", "the call was cancelled while it waited"));
    const waiting = waitOn(box, timeoutMs);
    if (!signal || Array.isArray(waiting)) return waiting;
    return new Promise<Delivery[]>((resolve, reject) => {
      const onAbort = (): void => {
        box.wake = undefined;
        clearTimeout(box.timer);
        reject(new TaskrtError("E_CANCELED", "the call was cancelled while it waited"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      waiting.then((deliveries) => {
        signal.removeEventListener("abort", onAbort);
        resolve(deliveries);
      });
    });
  }

  feed(tag: number, id: number, target: LuaHandle, method: string, args: LuaArguments): void {
    if (!this.byTag.has(tag) && !this.callMailboxes.has(tag)) this.callMailboxes.set(tag, { mailbox: [], wake: undefined, timer: undefined });
    const arrive = (values: unknown): void => {
      const box = this.byTag.get(tag) ?? this.callMailboxes.get(tag);
      if (box) push(box, { k: "f", id, values });
    };
    this.invoke(target, method, args, tag).then(arrive, () => arrive([]));
  }

  own(tag: number, target: LuaHandle, method: string, args: LuaArguments): void {
    this.byTag.get(tag)?.cleanups.push(() => void this.invoke(target, method, args, tag).catch(() => {}));
  }

  /** A function call ended: deliveries still on their way to it are dropped. */
  endCall(tag: number): void {
    const box = this.callMailboxes.get(tag);
    if (!box) return;
    clearTimeout(box.timer);
    this.callMailboxes.delete(tag);
  }

  send(tag: number, destination: string, topic: string, payload: unknown): NativeValues {
    const to = this.resolve(destination, "process.send");
    this.route(to, { k: "m", topic, from: this.pid(tag), payload });
    return [true];
  }

  spawn(tag: number, callerEntry: string, id: string, host: string, monitor: boolean, link: boolean, args: unknown[]): NativeValues {
    const what = monitor && link ? "process.spawn_linked_monitored" : monitor ? "process.spawn_monitored" : link ? "process.spawn_linked" : "process.spawn";
    const entryId = id.includes(":") ? id : `${callerEntry.slice(0, callerEntry.indexOf(":"))}:${id}`;
    const spec = this.specs.get(entryId);
    if (!spec) {
      const known = [...this.specs.keys()].sort();
      throw new TaskrtError("E_PROCESS_NOT_FOUND", `${what}: no process.lua entry '${entryId}'${known.length ? ` (process entries: ${known.join(", ")})` : ""}`);
    }
    if (!this.hosts.has(host)) {
      throw new TaskrtError("E_PROCESS_INVALID", `${what}: '${host}' is not a process.host${this.hosts.size ? ` (hosts: ${[...this.hosts].sort().join(", ")})` : ""}`);
    }
    const parent = this.byTag.get(tag);
    if ((monitor || link) && !parent) throw new TaskrtError("E_NOT_A_PROCESS", `${what}: only a process can monitor or link (a function call has no events channel)`);
    const pid = formatPid(host, this.tag, ++this.serial);
    this.post({ t: "spawned", pid, entryId, parent: parent?.pid, monitor, link });
    this.start(pid, spec, args);
    return [pid];
  }

  control(tag: number, operation: ControlOperation, destination: string, reason: string | undefined): NativeValues {
    const to = this.resolve(destination, `process.${operation}`);
    const from = this.pid(tag);
    if (operation === "cancel") {
      this.route(to, { k: "e", event: { kind: EVENT.CANCEL, from: from ?? "", reason: reason ?? "" } });
    } else if (operation === "terminate" && this.byPid.has(to)) {
      this.terminate(this.byPid.get(to)!, `terminated by ${from ?? "a function call"}`);
    } else {
      if (operation !== "terminate" && !from) throw new TaskrtError("E_NOT_A_PROCESS", `process.${operation}: only a process can ${operation} (a function call has no events channel)`);
      this.post({ t: "control", from, operation, to, reason });
    }
    return [true];
  }

  trapLinks(tag: number, value: boolean | undefined): boolean {
    const process = this.byTag.get(tag);
    if (process && value !== undefined) process.trapLinks = value;
    return process?.trapLinks ?? false;
  }

  register(tag: number, name: string, pid: string | undefined): Promise<NativeValues> {
    const target = pid ?? this.pid(tag);
    if (!target) throw new TaskrtError("E_NOT_A_PROCESS", "process.registry.register: not in a process: give the pid to register");
    return this.request((request) => ({ t: "register", request, name, pid: target }));
  }

  lookup(name: string): NativeValues {
    const pid = this.names.get(name);
    return pid ? [pid] : [undefined, toLuaError(new TaskrtError("E_NAME_NOT_FOUND", `process.registry.lookup: no process is registered as '${name}'`))];
  }

  unregister(tag: number, name: string): Promise<NativeValues> {
    return this.request((request) => ({ t: "unregister", request, name, pid: this.pid(tag) }));
  }

  // ---- processes -----------------------------------------------------------------------------------

  private start(pid: string, spec: EntrySpec, args: unknown[]): void {
    const tag = this.nextTag;
    this.nextTag = tag <= -0x7fff_fff0 ? -2 : tag - 1;
    const process: Process = { pid, tag, mailbox: [], wake: undefined, timer: undefined, trapLinks: false, controller: new AbortController(), cleanups: [] };
    this.byPid.set(pid, process);
    this.byTag.set(tag, process);
    void this.run(spec, args, tag, process.controller.signal).then(
      (result) => this.end(process, result.error ? { error: result.error.message } : { value: cloneable(result.value) }),
      (error: unknown) => this.end(process, { error: error instanceof Error ? error.message : String(error) }),
    );
  }

  private end(process: Process, result: ProcessResult): void {
    this.byPid.delete(process.pid);
    this.byTag.delete(process.tag);
    clearTimeout(process.timer);
    for (const cleanup of process.cleanups.splice(0)) cleanup();
    this.post({ t: "exited", pid: process.pid, result });
  }

  private terminate(process: Process, reason: string): void {
    this.deliver(process.pid, { k: "x", reason });
    process.controller.abort(new TaskrtError("E_CANCELED", reason));
  }

  private deliver(pid: string, delivery: Delivery): void {
    const process = this.byPid.get(pid);
    if (process) push(process, delivery);
  }

  /** Here when the pid lives in this worker; through the main thread otherwise. Never an error: a process may be gone by now. */
  private route(to: string, delivery: Delivery): void {
    if (workerOfPid(to) === this.tag) this.deliver(to, delivery);
    else this.post({ t: "route", to, delivery });
  }

  private resolve(destination: string, what: string): string {
    if (isPid(destination)) return destination;
    const pid = this.names.get(destination);
    if (!pid) throw new TaskrtError("E_NAME_NOT_FOUND", `${what}: '${destination}' is neither a pid nor a registered name`);
    return pid;
  }

  private request(message: (request: number) => ProcessFromWorker): Promise<NativeValues> {
    const request = this.nextRequest++;
    return new Promise<NativeValues>((resolve) => {
      this.requests.set(request, resolve);
      this.post(message(request));
    });
  }
}

function push(box: Mailbox, delivery: Delivery): void {
  box.mailbox.push(delivery);
  const wake = box.wake;
  if (!wake) return;
  box.wake = undefined;
  clearTimeout(box.timer);
  wake(box.mailbox.splice(0));
}

/** What is in the mailbox now, or the first deliveries to come within `timeoutMs` (forever when undefined). */
function waitOn(box: Mailbox, timeoutMs: number | undefined): Waited {
  if (box.mailbox.length > 0) return box.mailbox.splice(0);
  if (timeoutMs === 0) return [];
  return new Promise<Delivery[]>((resolve) => {
    box.wake = resolve;
    if (timeoutMs !== undefined) {
      box.timer = setTimeout(() => {
        box.wake = undefined;
        resolve(box.mailbox.splice(0));
      }, timeoutMs);
    }
  });
}

/** A result value as postMessage can carry it (a Lua value read leniently is plain data). */
function cloneable(value: unknown): unknown {
  try {
    structuredClone(value);
    return value;
  } catch {
    return String(value);
  }
}
