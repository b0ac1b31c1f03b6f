/**
 * @module handlers/lua/process/router — the processes seen from the main thread: which worker
 * each lives on, the registered names, who monitors and who is linked to whom. It routes what
 * workers cannot deliver themselves, turns an exit into EXIT events for the monitors and LINK_DOWN
 * for the linked (on a failure), and ends a lost worker's processes with an error, so their peers
 * hear of it as they would of any failure.
 */
import type { CallResult } from "../../handler.ts";
import type { EntrySpec } from "../workers/protocol.ts";
import { EVENT, formatPid, isPid, workerOfPid, type Delivery, type ProcessFromWorker, type ProcessResult, type ProcessToWorker } from "./messages.ts";

/** A worker as the router talks to it. */
export interface ProcessWorker {
  readonly tag: number;
  readonly dead: boolean;
  postProcess(message: ProcessToWorker): void;
}

interface Record {
  entryId: string;
  monitors: Set<string>;
  links: Set<string>;
  names: Set<string>;
  onExit?: (result: ProcessResult) => void;
}

/** How long ended processes get to report their end before their entry unloads anyway. */
const TERMINATE_WAIT_MS = 1000;

export class ProcessRouter {
  private readonly workers = new Map<number, ProcessWorker>();
  private readonly records = new Map<string, Record>();
  private readonly names = new Map<string, string>();
  private readonly entries = new Map<string, EntrySpec>();
  private readonly exitWaiters = new Set<() => void>();
  /** Live processes per worker tag, to place a service's process on the least busy worker. */
  private readonly perWorker = new Map<number, number>();
  private serial = 0;

  constructor(private readonly hosts: () => string[]) {}

  get count(): number {
    return this.records.size;
  }

  /** How many processes live on the worker tagged `tag`. */
  countOn(tag: number): number {
    return this.perWorker.get(tag) ?? 0;
  }

  private add(pid: string, record: Record): void {
    this.records.set(pid, record);
    const tag = workerOfPid(pid)!;
    this.perWorker.set(tag, this.countOn(tag) + 1);
  }

  addWorker(worker: ProcessWorker): void {
    this.workers.set(worker.tag, worker);
    worker.postProcess({ t: "hello", tag: worker.tag, hosts: this.hosts(), entries: [...this.entries.values()], names: Object.fromEntries(this.names) });
  }

  /** The worker is gone: each process it ran ends with `why`. */
  workerLost(worker: ProcessWorker, why: string): void {
    this.workers.delete(worker.tag);
    for (const [pid] of this.records) {
      if (workerOfPid(pid) === worker.tag) this.exited(pid, { error: `process ${pid} was lost: ${why}` });
    }
    this.perWorker.delete(worker.tag);
  }

  declare(spec: EntrySpec): void {
    this.entries.set(spec.entryId, spec);
    for (const worker of this.workers.values()) worker.postProcess({ t: "declare", entry: spec, hosts: this.hosts() });
  }

  forget(entryId: string): void {
    this.entries.delete(entryId);
    for (const worker of this.workers.values()) worker.postProcess({ t: "forget", entryId });
  }

  /** Starts a process of `entryId` on `worker` (a service's process); resolves with its outcome. */
  start(worker: ProcessWorker, entryId: string, host: string, args: readonly unknown[]): { pid: string; done: Promise<CallResult> } {
    const pid = formatPid(host, worker.tag, `s${++this.serial}`);
    let resolve!: (result: ProcessResult) => void;
    const outcome = new Promise<ProcessResult>((settle) => (resolve = settle));
    this.add(pid, { entryId, monitors: new Set(), links: new Set(), names: new Set(), onExit: resolve });
    worker.postProcess({ t: "start", pid, entryId, args: [...args] });
    const done = outcome.then((result): CallResult => (result.error !== undefined ? { value: undefined, error: new Error(result.error) } : { value: result.value }));
    return { pid, done };
  }

  cancel(pid: string, reason: string): void {
    this.deliver(pid, { k: "e", event: { kind: EVENT.CANCEL, from: "", reason } });
  }

  terminate(pid: string, reason: string): void {
    this.deliver(pid, { k: "x", reason });
  }

  /** The processes of `entryId` get CANCEL; those left after `graceMs` are ended. */
  async stopEntry(entryId: string, graceMs: number): Promise<void> {
    const left = (): string[] => [...this.records].filter(([, record]) => record.entryId === entryId).map(([pid]) => pid);
    if (left().length === 0) return;
    for (const pid of left()) this.cancel(pid, "the runtime is shutting down");
    if (await this.drained(graceMs, () => left().length === 0)) return;
    for (const pid of left()) this.terminate(pid, `still running ${graceMs}ms after CANCEL at shutdown`);
    await this.drained(TERMINATE_WAIT_MS, () => left().length === 0);
  }

  /** Resolves true once `empty()` holds (no process is left by default), false after `ms`. */
  async drained(ms: number, empty: () => boolean = () => this.records.size === 0): Promise<boolean> {
    if (empty()) return true;
    return new Promise<boolean>((resolve) => {
      const done = (): void => {
        if (!empty()) return;
        clearTimeout(timer);
        this.exitWaiters.delete(done);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.exitWaiters.delete(done);
        resolve(false);
      }, ms);
      this.exitWaiters.add(done);
    });
  }

  receive(worker: ProcessWorker, message: ProcessFromWorker): void {
    switch (message.t) {
      case "spawned": {
        const record: Record = { entryId: message.entryId, monitors: new Set(), links: new Set(), names: new Set() };
        this.add(message.pid, record);
        if (message.parent && message.monitor) record.monitors.add(message.parent);
        if (message.parent && message.link) this.link(message.parent, message.pid);
        return;
      }
      case "exited":
        this.exited(message.pid, message.result);
        return;
      case "route":
        this.deliver(message.to, message.delivery);
        return;
      case "control":
        this.control(message);
        return;
      case "register": {
        const holder = this.names.get(message.name);
        const answer = (ok: boolean, error?: string): void => worker.postProcess({ t: "answer", request: message.request, ok, error, kind: error ? "ALREADY_EXISTS" : undefined });
        if (holder !== undefined && holder !== message.pid) return answer(false, `process.registry.register: '${message.name}' is already registered to ${holder}`);
        const record = this.records.get(message.pid);
        if (!record) return answer(false, `process.registry.register: ${message.pid} is not a running process`);
        record.names.add(message.name);
        this.names.set(message.name, message.pid);
        this.broadcastNames({ [message.name]: message.pid });
        return answer(true);
      }
      case "unregister": {
        const holder = this.names.get(message.name);
        if (holder === undefined || (message.pid !== undefined && holder !== message.pid)) {
          worker.postProcess({ t: "answer", request: message.request, ok: false });
          return;
        }
        this.names.delete(message.name);
        this.records.get(holder)?.names.delete(message.name);
        this.broadcastNames({ [message.name]: null });
        worker.postProcess({ t: "answer", request: message.request, ok: true });
        return;
      }
    }
  }

  private control(message: Extract<ProcessFromWorker, { t: "control" }>): void {
    const { from, to } = message;
    const target = this.records.get(to);
    switch (message.operation) {
      case "cancel":
        this.deliver(to, { k: "e", event: { kind: EVENT.CANCEL, from: from ?? "", reason: message.reason ?? "" } });
        return;
      case "terminate":
        this.deliver(to, { k: "x", reason: `terminated by ${from ?? "a function call"}` });
        return;
      case "monitor":
        if (!from) return;
        if (target) target.monitors.add(from);
        else this.deliver(from, { k: "e", event: { kind: EVENT.EXIT, from: to, result: { error: `no such process: ${to}` } } });
        return;
      case "unmonitor":
        if (from) target?.monitors.delete(from);
        return;
      case "link":
        if (!from) return;
        if (target) this.link(from, to);
        else this.linkDown(from, to, { error: `no such process: ${to}` });
        return;
      case "unlink":
        if (!from) return;
        target?.links.delete(from);
        this.records.get(from)?.links.delete(to);
        return;
      default: {
        const never: never = message.operation;
        throw new Error(`unknown process operation ${String(never)}`);
      }
    }
  }

  private link(a: string, b: string): void {
    this.records.get(a)?.links.add(b);
    this.records.get(b)?.links.add(a);
  }

  private exited(pid: string, result: ProcessResult): void {
    const record = this.records.get(pid);
    if (!record) return;
    this.records.delete(pid);
    const tag = workerOfPid(pid)!;
    this.perWorker.set(tag, this.countOn(tag) - 1);
    for (const watcher of record.monitors) this.deliver(watcher, { k: "e", event: { kind: EVENT.EXIT, from: pid, result } });
    for (const peer of record.links) {
      this.records.get(peer)?.links.delete(pid);
      if (result.error !== undefined) this.linkDown(peer, pid, result);
    }
    if (record.names.size) {
      const gone: { [name: string]: null } = {};
      for (const name of record.names) {
        if (this.names.get(name) === pid) this.names.delete(name);
        gone[name] = null;
      }
      this.broadcastNames(gone);
    }
    try {
      record.onExit?.(result);
    } finally {
      for (const waiter of [...this.exitWaiters]) waiter();
    }
  }

  private linkDown(pid: string, from: string, result: ProcessResult): void {
    this.workerOf(pid)?.postProcess({ t: "link-down", pid, from, result });
  }

  private deliver(pid: string, delivery: Delivery): void {
    const to = isPid(pid) ? pid : this.names.get(pid);
    if (to) this.workerOf(to)?.postProcess({ t: "deliver", pid: to, delivery });
  }

  private workerOf(pid: string): ProcessWorker | undefined {
    const tag = workerOfPid(pid);
    const worker = tag === undefined ? undefined : this.workers.get(tag);
    return worker && !worker.dead ? worker : undefined;
  }

  private broadcastNames(names: { [name: string]: string | null }): void {
    for (const worker of this.workers.values()) worker.postProcess({ t: "names", names });
  }
}
