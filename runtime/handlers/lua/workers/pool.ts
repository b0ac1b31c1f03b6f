/**
 * @module handlers/lua/workers/pool — the Lua worker threads, seen from the main thread: which
 * worker runs a call, the module calls they send back (run here, in the call's context), and the
 * watchdog that replaces a worker whose Lua code cannot be stopped.
 *
 * A call runs on the worker with the fewest calls in flight; the entry's source is loaded into
 * that worker the first time it runs one of its calls there (a state per entry per worker).
 * Stopping is cooperative first: the worker's hook checks the clock and the STOP slot of the
 * control block. Code the hook never reaches (a C pattern matcher, a finalizer, which runs with
 * hooks off) keeps the RUNNING slot set; once a stretch has run past its max_run_time plus a
 * grace, the worker is terminated, every call it was running fails (the runaway with a timeout),
 * and a fresh worker takes its place.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { TaskrtError, errorMessage } from "../../../errors.ts";
import { runInContext, type CallContext } from "../../../modules/context.ts";
import { callContext, type EntryCallContext } from "../../call-context.ts";
import type { CallResult, CallScope } from "../../handler.ts";
import { CallState, LUA_NULL } from "../engine.ts";
import { LuaErrorValue, toLuaError } from "../errors.ts";
import { LuaHandle } from "../handles.ts";
import { LuaRaise, type NativeValues } from "../native.ts";
import { NULL_WIRE, errorToWire, toWire } from "../wire.ts";
import { moduleTable } from "./module-table.ts";
import { CONTROL, CONTROL_BYTES, STARTED_AT_BYTE, wallClock, type EntrySpec, type FromWorker, type SerializedError, type ToWorker } from "./protocol.ts";
import { snapshotOf } from "./request-snapshot.ts";
import { RemoteArguments } from "./remote-arguments.ts";
import { ProcessRouter, type ProcessWorker } from "../process/router.ts";
import type { ProcessToWorker } from "../process/messages.ts";

/** Names workers across replacements: a pid carries the tag of the worker it lives on. */
let workerSerial = 0;

/** How long past max_run_time a worker may stay busy in one stretch before it is replaced. */
export const STOP_GRACE_MS = 500;
/** How often the watchdog looks at the workers. */
const WATCH_INTERVAL_MS = 50;
const WORKER_ENTRY = new URL("./worker-entry.js", import.meta.url);

/**
 * The number of workers: TASKRT_LUA_WORKERS, else one per core but one, which the main thread
 * needs for HTTP and the drivers; never fewer than two, so one worker stuck in a runaway until
 * the watchdog replaces it does not hold up every other Lua call.
 */
export function workerCount(env: NodeJS.ProcessEnv = process.env, cores = availableParallelism()): number {
  const configured = env.TASKRT_LUA_WORKERS;
  if (configured === undefined || configured === "") return Math.max(2, cores - 1);
  const count = Number(configured);
  if (!Number.isInteger(count) || count < 1 || count > 256) {
    throw new TaskrtError("E_CONFIG", `TASKRT_LUA_WORKERS must be an integer from 1 to 256, got "${configured}"`);
  }
  return count;
}

interface PoolEntry {
  spec: EntrySpec;
  base: EntryCallContext;
}

interface RunningCall {
  id: number;
  entry: PoolEntry;
  context: CallContext;
  state: CallState;
  settled: boolean;
  resolve(result: CallResult): void;
  onAbort?: () => void;
}

interface LoadWaiter {
  resolve(): void;
  reject(error: Error): void;
}

class LuaWorker implements ProcessWorker {
  readonly tag = ++workerSerial;
  readonly thread: Worker;
  readonly control: Int32Array;
  readonly startedAt: Float64Array;
  readonly calls = new Map<number, RunningCall>();
  /** Entry keys whose source this worker was sent. */
  readonly loaded = new Set<number>();
  readonly loads = new Map<number, LoadWaiter[]>();
  readonly handles = new Map<number, LuaHandle>();
  nextHandle = 1;
  dead = false;
  /** Set once the worker has its engine loaded: until then calls go elsewhere if they can. */
  ready = false;

  constructor(
    readonly index: number,
    script: URL,
  ) {
    const shared = new SharedArrayBuffer(CONTROL_BYTES);
    this.control = new Int32Array(shared, 0, 2);
    this.startedAt = new Float64Array(shared, STARTED_AT_BYTE, 1);
    this.thread = new Worker(script);
    // Workers never keep the process alive: stopping the entries ends them, and exit ends the rest.
    this.thread.unref();
    const table = moduleTable();
    this.post({ t: "init", control: shared, classes: table.classes, modules: table.shapes });
  }

  private outbox: ToWorker[] = [];

  /**
   * Queues `message`; what is queued in one turn of the event loop goes out as one batch, after
   * it. A post wakes the worker, and waking a thread costs more than the message: the calls of
   * every request read in one turn, and the answers to a whole batch of module calls, share one.
   */
  post(message: ToWorker): void {
    if (this.dead) return;
    if (this.outbox.length === 0) setImmediate(this.flush);
    this.outbox.push(message);
  }

  private readonly flush = (): void => {
    const batch = this.outbox;
    this.outbox = [];
    if (!this.dead && batch.length) this.thread.postMessage(batch);
  };

  postProcess(m: ProcessToWorker): void {
    this.post({ t: "process", m });
  }

  handle(id: number): LuaHandle | undefined {
    return id < 0 ? moduleTable().staticHandles.get(id) : this.handles.get(id);
  }

  /** `value` for the wire; handles it holds are registered in this worker's table. */
  wire(value: unknown): unknown {
    return toWire(value, (special) => {
      if (special instanceof LuaHandle) {
        const id = this.nextHandle++;
        this.handles.set(id, special);
        return { "\0": "h", id, c: special.luaClass.name };
      }
      if (special instanceof LuaErrorValue) return errorToWire(special);
      if (special === LUA_NULL) return NULL_WIRE;
      return undefined;
    });
  }
}

export class LuaWorkerPool {
  private readonly workers: LuaWorker[] = [];
  private readonly entries = new Map<number, PoolEntry>();
  private readonly processSpecs = new Map<string, EntrySpec>();
  private readonly watchdog: NodeJS.Timeout;
  private nextCallId = 1;
  private nextKey = 1;
  private closed = false;
  /** Set when a worker failed before it was ready: there is no worker to run Lua on. */
  private brokenBecause: string | undefined;
  private readonly processHosts = new Set<string>();
  /** Where the processes live, their names, monitors and links. */
  readonly processes = new ProcessRouter(() => [...this.processHosts]);

  /** `script` is the workers' entry; tests give a broken one. */
  constructor(
    readonly size: number,
    private readonly script: URL = WORKER_ENTRY,
  ) {
    for (let index = 0; index < size; index++) this.workers.push(this.spawn(index));
    this.watchdog = setInterval(() => this.watch(), WATCH_INTERVAL_MS);
    this.watchdog.unref();
  }

  /** Registers an entry; its key names it to the workers. */
  register(spec: Omit<EntrySpec, "key">, base: EntryCallContext): PoolEntry {
    const entry = { spec: { ...spec, key: this.nextKey++ }, base };
    this.entries.set(entry.spec.key, entry);
    return entry;
  }

  /** Loads the entry into one worker now, so a source that does not compile or run fails its start. */
  load(entry: PoolEntry): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const worker = this.pick();
      const waiters = worker.loads.get(entry.spec.key) ?? [];
      waiters.push({ resolve, reject });
      worker.loads.set(entry.spec.key, waiters);
      this.ensureLoaded(worker, entry);
    });
  }

  unregister(entry: PoolEntry): void {
    this.entries.delete(entry.spec.key);
    // Only the registration this entry made: a registry started since may hold the same id.
    const process = this.processSpecs.get(entry.spec.entryId)?.key === entry.spec.key && this.processSpecs.delete(entry.spec.entryId);
    if (process) this.processes.forget(entry.spec.entryId);
    for (const worker of this.workers) {
      // A process entry may have been loaded by a spawn in any worker.
      if (worker.loaded.delete(entry.spec.key) || process) worker.post({ t: "unload", key: entry.spec.key });
    }
  }

  /** Makes a registered process.lua entry spawnable on `hosts` from every worker. */
  declareProcess(entry: PoolEntry, hosts: readonly string[]): void {
    for (const host of hosts) this.processHosts.add(host);
    this.processSpecs.set(entry.spec.entryId, entry.spec);
    this.processes.declare(entry.spec);
  }

  /** Runs the entry as a process on `host` (a process.service's): resolves when it ends. */
  startProcess(entry: PoolEntry, host: string, args: readonly unknown[]): { pid: string; done: Promise<CallResult> } {
    const worker = this.pickForProcess();
    this.ensureLoaded(worker, entry);
    return this.processes.start(worker, entry.spec.entryId, host, args);
  }

  /** The worker with the fewest processes (the ready one of two as busy): a process lives long, so where it lands matters more than a start-up delay. */
  private pickForProcess(): LuaWorker {
    let best: LuaWorker | undefined;
    for (const worker of this.workers) {
      if (worker.dead) continue;
      const difference = best ? this.processes.countOn(worker.tag) - this.processes.countOn(best.tag) : -1;
      if (difference < 0 || (difference === 0 && worker.ready && !best!.ready)) best = worker;
    }
    return best ?? this.pick();
  }

  /** The entry's processes get CANCEL; those still running after `graceMs` are ended. */
  stopProcesses(entry: PoolEntry, graceMs: number): Promise<void> {
    return this.processes.stopEntry(entry.spec.entryId, graceMs);
  }

  get entryCount(): number {
    return this.entries.size;
  }

  call(entry: PoolEntry, args: readonly unknown[], scope: CallScope | undefined): Promise<CallResult> {
    if (this.closed || !this.entries.has(entry.spec.key)) {
      return Promise.resolve({ value: undefined, error: new TaskrtError("E_STOPPED", `${entry.spec.entryId} is stopped`, { entryId: entry.spec.entryId }) });
    }
    let worker: LuaWorker;
    try {
      worker = this.pick();
    } catch (error) {
      return Promise.resolve({ value: undefined, error: error as Error });
    }
    this.ensureLoaded(worker, entry);
    const id = this.nextCallId;
    this.nextCallId = id >= 0x7fff_fff0 ? 1 : id + 1;
    const signal = scope?.signal;
    return new Promise<CallResult>((resolve) => {
      const running: RunningCall = { id, entry, context: callContext(entry.base, scope), state: new CallState(signal, id), settled: false, resolve };
      let wireArgs: unknown[];
      try {
        wireArgs = args.map((arg) => worker.wire(arg));
      } catch (error) {
        resolve({ value: undefined, error: error instanceof Error ? error : new Error(String(error)) });
        return;
      }
      worker.calls.set(id, running);
      const http = scope?.http && entry.spec.modules.includes("http") ? snapshotOf(scope.http) : undefined;
      worker.post({ t: "call", id, key: entry.spec.key, args: wireArgs, http });
      if (signal) {
        running.onAbort = () => this.cancel(worker, running);
        if (signal.aborted) running.onAbort();
        else signal.addEventListener("abort", running.onAbort, { once: true });
      }
    });
  }

  /** Stops every worker; calls in flight fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    const stopped = new TaskrtError("E_STOPPED", "the Lua workers were stopped while this call ran");
    await Promise.all(
      this.workers.map(async (worker) => {
        worker.dead = true;
        this.failAll(worker, () => stopped);
        await worker.thread.terminate();
      }),
    );
  }

  // ---- workers ----------------------------------------------------------------------------------

  private spawn(index: number): LuaWorker {
    const worker = new LuaWorker(index, this.script);
    worker.thread.on("message", (batch: FromWorker[]) => {
      for (const message of batch) this.receive(worker, message);
    });
    worker.thread.on("error", (error) => this.lose(worker, `it failed: ${errorMessage(error)}`));
    worker.thread.on("exit", (code) => this.lose(worker, `it exited with code ${code}`));
    this.processes.addWorker(worker);
    return worker;
  }

  /** The ready worker with the fewest calls in flight (a worker still starting only when none is ready). */
  private pick(): LuaWorker {
    let best: LuaWorker | undefined;
    for (const worker of this.workers) {
      if (worker.dead) continue;
      if (!best || (worker.ready !== best.ready ? worker.ready : worker.calls.size < best.calls.size)) best = worker;
    }
    if (!best) throw new TaskrtError("E_LUA_UNAVAILABLE", this.brokenBecause ?? "no Lua worker is running");
    return best;
  }

  /** Calls sent to workers that have not reported their end, cancelled ones included. */
  inFlight(): number {
    let count = 0;
    for (const worker of this.workers) count += worker.calls.size;
    return count;
  }

  private ensureLoaded(worker: LuaWorker, entry: PoolEntry): void {
    if (worker.loaded.has(entry.spec.key)) return;
    worker.loaded.add(entry.spec.key);
    worker.post({ t: "load", spec: entry.spec });
  }

  /** Replaces `worker` (terminating it); its calls fail: `runaway` (a call id) with a timeout, the others as lost. */
  private replace(worker: LuaWorker, runaway: number, elapsedMs: number): void {
    if (worker.dead) return;
    worker.dead = true;
    const culprit = worker.calls.get(runaway);
    const what = culprit ? `lua handler ${culprit.entry.spec.entryId}` : runaway < -1 ? "a Lua process" : "Lua code outside a call (a source loading, or a finalizer)";
    culprit?.context.logger.warn(`${what} ran ${Math.round(elapsedMs)}ms without stopping; its Lua worker was replaced`);
    this.processes.workerLost(worker, `its Lua worker was replaced after ${what} ran ${Math.round(elapsedMs)}ms without stopping`);
    this.workers[worker.index] = this.spawn(worker.index);
    void worker.thread.terminate();
    this.failAll(worker, (call) =>
      call.id === runaway
        ? new TaskrtError(
            "E_LUA_TIMEOUT",
            `lua handler ${call.entry.spec.entryId} exceeded ${call.entry.spec.maxRunMs}ms and could not be stopped where it was (C code such as a pattern match, or a finalizer): its worker was replaced`,
            { entryId: call.entry.spec.entryId },
          )
        : new TaskrtError("E_LUA_WORKER_LOST", `${call.entry.spec.entryId}: the call was lost: its Lua worker was replaced because ${what} could not be stopped`, {
            entryId: call.entry.spec.entryId,
          }),
    );
  }

  /** A worker that ended on its own (a crash, the wasm runtime aborting): its calls fail, a new one starts. */
  private lose(worker: LuaWorker, why: string): void {
    if (worker.dead) return;
    worker.dead = true;
    // A worker that never became ready would fail again: it is not replaced, and says why.
    if (!worker.ready) this.brokenBecause = `a Lua worker failed to start: ${why}`;
    else if (!this.closed) this.workers[worker.index] = this.spawn(worker.index);
    this.processes.workerLost(worker, `its Lua worker ended (${why})`);
    this.failAll(worker, (call) => new TaskrtError("E_LUA_WORKER_LOST", `${call.entry.spec.entryId}: the call was lost: its Lua worker ended (${why})`, { entryId: call.entry.spec.entryId }));
  }

  private failAll(worker: LuaWorker, errorFor: (call: RunningCall) => Error): void {
    const calls = [...worker.calls.values()];
    worker.calls.clear();
    worker.handles.clear();
    for (const call of calls) void this.settle(call, { value: undefined, error: errorFor(call) });
    for (const [key, waiters] of worker.loads) {
      const error = new TaskrtError("E_LUA_WORKER_LOST", `${this.entries.get(key)?.spec.entryId ?? "a Lua entry"}: its Lua worker ended while loading the source`);
      for (const waiter of waiters) waiter.reject(error);
    }
    worker.loads.clear();
  }

  private watch(): void {
    const now = wallClock();
    for (const worker of this.workers) {
      const running = Atomics.load(worker.control, CONTROL.RUNNING);
      if (running === 0) continue;
      const elapsed = now - worker.startedAt[0];
      const call = running > 0 ? worker.calls.get(running) : undefined;
      const limit = (call ? call.entry.spec.maxRunMs : this.longestRunMs()) + STOP_GRACE_MS;
      if (elapsed > limit) this.replace(worker, running, elapsed);
    }
  }

  private longestRunMs(): number {
    let longest = 0;
    for (const entry of this.entries.values()) longest = Math.max(longest, entry.spec.maxRunMs);
    return longest || 5000;
  }

  // ---- calls ----------------------------------------------------------------------------------

  private cancel(worker: LuaWorker, call: RunningCall): void {
    if (call.settled) return;
    const error = new TaskrtError("E_CANCELED", `lua handler ${call.entry.spec.entryId} was cancelled`, { entryId: call.entry.spec.entryId });
    // The slot reaches code that runs now; the message, code that waits.
    Atomics.store(worker.control, CONTROL.STOP, call.id);
    worker.post({ t: "cancel", id: call.id, error: { code: error.code, message: error.message, entryId: call.entry.spec.entryId } });
    void this.settle(call, { value: undefined, error });
  }

  /** Ends a call once: its deferred cleanups run (roll back, release), then its caller has the result. */
  private async settle(call: RunningCall, result: CallResult): Promise<void> {
    if (call.settled) return;
    call.settled = true;
    if (call.onAbort) call.state.signal?.removeEventListener("abort", call.onAbort);
    try {
      await call.state.end();
    } catch (error) {
      call.context.logger.warn(`cleanup after a Lua call failed: ${errorMessage(error)}`);
    }
    call.resolve(result);
  }

  private receive(worker: LuaWorker, message: FromWorker): void {
    switch (message.t) {
      case "done": {
        const call = worker.calls.get(message.id);
        if (!call) return;
        worker.calls.delete(message.id);
        // What the handler wrote, as it would have written it here (the endpoint decides what to send).
        if (message.response && call.context.http && !call.settled) Object.assign(call.context.http.response, message.response);
        if (worker.calls.size === 0 && Atomics.load(worker.control, CONTROL.STOP) === message.id) Atomics.store(worker.control, CONTROL.STOP, 0);
        void this.settle(call, message.error ? { value: undefined, error: revive(message.error) } : { value: message.value });
        return;
      }
      case "rpc":
        this.serve(worker, message);
        return;
      case "log": {
        const call = worker.calls.get(message.id);
        const logger = call?.context.logger ?? this.entries.get(message.key)?.base.logger;
        logger?.[message.level](message.text, message.fields);
        return;
      }
      case "loaded": {
        const waiters = worker.loads.get(message.key) ?? [];
        worker.loads.delete(message.key);
        for (const waiter of waiters) {
          if (message.error) waiter.reject(revive(message.error));
          else waiter.resolve();
        }
        return;
      }
      case "released":
        for (const id of message.ids) worker.handles.delete(id);
        return;
      case "ready":
        worker.ready = true;
        return;
      case "process":
        this.processes.receive(worker, message.m);
        return;
    }
  }

  /** Runs the module function a worker's Lua code called, in the call's context, and posts the answer. */
  private serve(worker: LuaWorker, message: Extract<FromWorker, { t: "rpc" }>): void {
    const { rpc, where } = message;
    const call = worker.calls.get(message.id);
    const entry = call?.entry ?? this.entries.get(message.key);
    const fn = moduleTable().functions.get(message.fn);
    const answer = (values: NativeValues): void => {
      try {
        worker.post({ t: "reply", rpc, values: values?.map((value) => worker.wire(value)) });
      } catch (error) {
        worker.post({ t: "reply", rpc, raise: `${where} ${fn?.name ?? message.fn} returned a value Lua cannot hold: ${errorMessage(error)}`.trim() });
      }
    };
    const fail = (error: unknown): void => answer([undefined, toLuaError(error, where)]);
    // Ids below 0 are processes (process/worker-host.ts): they run in the entry's own context.
    if (!entry || !fn || (message.id > 0 && (!call || call.settled))) {
      fail(new TaskrtError("E_CANCELED", `${message.fn}: the call that made it has ended`));
      return;
    }
    const args = new RemoteArguments(message.args, message.types, call?.state, (id) => worker.handle(id), fn.name);
    let result;
    try {
      result = runInContext(call?.context ?? (entry.base as CallContext), () => fn(args));
    } catch (error) {
      if (error instanceof LuaRaise) worker.post({ t: "reply", rpc, raise: where ? `${where} ${error.message}` : error.message });
      else fail(error);
      return;
    }
    if (result && typeof (result as PromiseLike<NativeValues>).then === "function") {
      Promise.resolve(result as PromiseLike<NativeValues>).then(answer, fail);
    } else {
      answer(result as NativeValues);
    }
  }
}

/** An error from a worker, as the error class it was there when it was a TaskrtError. */
function revive(serialized: SerializedError): Error {
  const error = serialized.code
    ? new TaskrtError(serialized.code, serialized.message, { entryId: serialized.entryId, hint: serialized.hint })
    : new Error(serialized.message);
  if (serialized.stack) error.stack = serialized.stack;
  return error;
}

let shared: LuaWorkerPool | undefined;

/** The process's pool, started with the first Lua entry. */
export function luaWorkerPool(): LuaWorkerPool {
  shared ??= new LuaWorkerPool(workerCount());
  return shared;
}

/** Stops the pool once no entry uses it (the last Lua entry stopped). */
export async function releaseLuaWorkerPool(): Promise<void> {
  const pool = shared;
  if (!pool || pool.entryCount > 0) return;
  shared = undefined;
  await pool.close();
}
