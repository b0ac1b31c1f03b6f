/**
 * @module supervisor — builds every entry's component and runs the services' lifecycle.
 *
 * States of a service: CREATED → STARTING → RUNNING → STOPPING → STOPPED, or FAILED when its
 * start throws or times out, when a one-shot process it requires fails, or when it is a one-shot
 * process that failed for good; the cause is kept and named by lookups of the failed entry.
 * `start()` creates all components in dependency order (no I/O), starts plain resources (code
 * loading), then starts the services needed by the auto-start roots — each once everything it
 * depends on runs, and once the one-shot processes it requires have returned — independent
 * branches in parallel. Start-up is done when every one of them has *started*: a process that runs
 * forever (a worker, a poller) does not hold it up. A required root that fails, or the caller's
 * abort signal (SIGINT during start-up), ends the start-up at once: what started is stopped.
 * `stop()` stops in reverse order of start, collecting every failure.
 */
import { TaskrtError, errorMessage } from "./errors.ts";
import type { Component } from "./contracts/component.ts";
import type { RuntimeServices } from "./contracts/runtime-services.ts";
import { isCallableComponent, type Callable } from "./handlers/handler.ts";
import { createEnvironmentVariables } from "./modules/environment-variables.ts";
import { MemoryEventBus } from "./modules/event-bus.ts";
import { SERVICE_STATE, type BuildContext, type RuntimeView, type ServiceState } from "./contracts/build-context.ts";
import type { KindDefinition } from "./contracts/kind-definition.ts";
import { readLifecycle } from "./lifecycle.ts";
import type { Logger } from "./logger.ts";
import type { Registry } from "./registry/entry.ts";
import { dependencyClosure, dependencyGraph, topologicalOrder } from "./registry/graph.ts";
import type { SqlDatabase } from "./drivers/sql/driver.ts";
import type { QueueHandle } from "./drivers/queue/driver.ts";
import { closestMatches } from "./registry/suggest.ts";
import { Instruments } from "./metrics/instruments.ts";

export interface StartedEntry {
  id: string;
  kind: string;
  description?: string;
}

/** A boot service that is FAILED, with the cause in its own words. */
export interface FailedEntry {
  id: string;
  kind: string;
  cause: string;
}

const DEFAULT_RESOURCE_STOP_MS = 5000;
/**
 * A service gets its stop_timeout to finish its work, and it enforces that itself (a consumer
 * aborts its handlers then); the supervisor's deadline is a backstop just past it.
 */
const STOP_GRACE_MS = 1000;

export class Supervisor {
  readonly services: RuntimeServices;
  /** Read-only state for the entries that report on the others (health, metrics). */
  readonly view: RuntimeView;
  /** This runtime's measuring hooks, no-ops until a `taskrt.metrics` entry attaches. */
  readonly instruments = new Instruments();
  private readonly components = new Map<string, Component>();
  private readonly states = new Map<string, ServiceState>();
  /** Started components, in the order their start finished: stop runs it backwards. */
  private readonly startOrder: string[] = [];
  private readonly graph: Map<string, Set<string>>;
  /** Services being started: lookups of one of these wait for it instead of failing. */
  private readonly readiness = new Map<string, Promise<void>>();
  /** One-shot services whose `completed()` resolved. */
  private readonly finished = new Set<string>();
  /** Why each FAILED entry failed, for the lookups that meet it. */
  private readonly failureCauses = new Map<string, Error>();
  /** Ends the start-up: the caller's signal, or the first required root that failed. */
  private readonly bootAbort = new AbortController();
  // The registry does not change under a supervisor: computed once, on first ask.
  private serviceIds: string[] | undefined;
  private bootServiceIds: string[] | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly kinds: ReadonlyMap<string, KindDefinition>,
    private readonly logger: Logger,
  ) {
    this.graph = dependencyGraph(registry, kinds);
    this.services = {
      database: (id) => this.whenRunning(id, () => this.typed<SqlDatabase>(id, "db.sql.", "E_DB_NOT_FOUND", "database")),
      queue: (id) => this.typed<QueueHandle>(id, "queue.queue", "E_QUEUE_NOT_FOUND", "queue"),
      callable: (id) => this.callable(id),
      registry: () => this.registry,
      environment: createEnvironmentVariables(registry, (id) => this.component(id)),
      events: new MemoryEventBus(logger),
    };
    this.view = {
      state: (id) => this.states.get(id),
      finished: (id) => this.finished.has(id),
      services: () => (this.serviceIds ??= topologicalOrder(this.graph).filter((id) => this.isService(id))),
      bootServices: () => (this.bootServiceIds ??= this.bootServices(topologicalOrder(this.graph))),
    };
  }

  /** The function or process entry `id`, ready to call (`funcs`). */
  private callable(id: string): Callable {
    const entry = this.registry.byId.get(id);
    const component = entry ? this.components.get(id) : undefined;
    if (!isCallableComponent(component)) {
      throw new TaskrtError("E_FUNCTION_NOT_FOUND", `${id} is ${entry ? `a ${entry.kind} entry, not a function` : "not an entry of this registry"}`, {
        hint: "call a function.* or process.* entry by its full id, e.g. app:create_task",
      });
    }
    return component.callable();
  }

  state(id: string): ServiceState | undefined {
    return this.states.get(id);
  }

  component<T = Component>(id: string): T {
    const component = this.components.get(id);
    if (!component) throw new TaskrtError("E_INTERNAL", `internal: component ${id} requested before it was created`);
    return component as T;
  }

  started(): StartedEntry[] {
    return this.startOrder
      .filter((id) => this.kinds.get(this.registry.byId.get(id)!.kind)?.service)
      .map((id) => ({ id, kind: this.registry.byId.get(id)!.kind, description: this.components.get(id)?.describe?.() }));
  }

  /** The boot services that failed (optional ones; a required one ends the start-up), each with its cause. */
  failed(): FailedEntry[] {
    return this.view.bootServices().flatMap((id) => {
      const cause = this.states.get(id) === SERVICE_STATE.FAILED ? this.failureCauses.get(id) : undefined;
      return cause ? [{ id, kind: this.registry.byId.get(id)!.kind, cause: causeMessage(id, cause) }] : [];
    });
  }

  /** `signal` aborts the start-up (a SIGINT before ready): it then rejects with E_INTERRUPTED. */
  async start(signal?: AbortSignal): Promise<void> {
    const startedAt = performance.now();
    if (signal) {
      if (signal.aborted) this.bootAbort.abort(interrupted());
      else signal.addEventListener("abort", () => this.bootAbort.abort(interrupted()), { once: true });
    }
    const order = topologicalOrder(this.graph);
    this.createAll(order);
    await this.startResources(order);
    await this.startServices(order);
    this.instruments.startupFinished((performance.now() - startedAt) / 1000);
  }

  private createAll(order: string[]): void {
    const context: BuildContext = {
      registry: this.registry,
      logger: this.logger,
      services: this.services,
      component: (id) => this.component(id),
      runtime: this.view,
      instruments: this.instruments,
    };
    for (const id of order) {
      const entry = this.registry.byId.get(id)!;
      const kind = this.kinds.get(entry.kind)!;
      try {
        this.components.set(id, kind.create(entry, context));
      } catch (error) {
        throw new TaskrtError("E_CREATE", `${id}: cannot build ${entry.kind}: ${errorMessage(error)}`, { entryId: id, cause: error });
      }
      this.states.set(id, SERVICE_STATE.CREATED);
    }
  }

  /** Plain resources (functions load their code) start first, all at once: they need no service. */
  private async startResources(order: string[]): Promise<void> {
    const resources = order.filter((id) => !this.isService(id) && this.components.get(id)?.start);
    const results = await Promise.allSettled(resources.map((id) => this.startOne(id, DEFAULT_RESOURCE_STOP_MS)));
    const failures = results.flatMap((result) => (result.status === "rejected" ? [result.reason as Error] : []));
    if (failures.length) await this.failBoot(failures);
  }

  private autoStartRoots(order: string[]): string[] {
    return order.filter((id) => this.isService(id) && readLifecycle(this.registry.byId.get(id)!).autoStart);
  }

  private bootServices(order: string[]): string[] {
    const needed = dependencyClosure(this.graph, this.autoStartRoots(order));
    return order.filter((id) => needed.has(id) && this.isService(id));
  }

  private async startServices(order: string[]): Promise<void> {
    const roots = this.autoStartRoots(order);
    const needed = dependencyClosure(this.graph, roots);
    const ready = new Map<string, Promise<void>>();
    const readyOf = (id: string): Promise<void> => {
      let promise = ready.get(id);
      if (!promise) {
        promise = (async () => {
          const dependencies = [...(this.graph.get(id) ?? [])].filter((dependency) => needed.has(dependency));
          await Promise.all(dependencies.map(async (dependency) => {
            await readyOf(dependency);
            await this.untilBootAborted(this.completionOf(dependency));
          }));
          if (!this.isService(id)) return;
          this.bootAbort.signal.throwIfAborted();
          const entry = this.registry.byId.get(id)!;
          const lifecycle = readLifecycle(entry);
          await this.startOne(id, lifecycle.startTimeoutMs);
          this.watchCompletion(id);
        })();
        promise.catch(() => {});
        ready.set(id, promise);
        if (this.isService(id)) this.readiness.set(id, promise);
      }
      return promise;
    };

    const failures: Error[] = [];
    await Promise.all(
      roots.map(async (root) => {
        try {
          await readyOf(root);
        } catch (error) {
          if (isBootAbort(error)) return;
          if (readLifecycle(this.registry.byId.get(root)!).startup === "optional") {
            // Its own failure is logged already; this says what went missing because of another's.
            if (!(error instanceof TaskrtError && error.entryId === root)) {
              this.logger.forEntry(root).warn("optional service did not start", { error: errorMessage(error) });
            }
          } else {
            failures.push(error instanceof Error ? error : new Error(String(error)));
            // Nothing waits for the rest (a migration retrying against that database) to give up.
            this.bootAbort.abort(new TaskrtError("E_BOOT_FAILED", "start-up failed"));
          }
        }
      }),
    );
    const reason = this.bootAbort.signal.reason as unknown;
    if (!failures.length && reason instanceof TaskrtError && reason.code === "E_INTERRUPTED") failures.push(reason);
    if (failures.length) await this.failBoot(failures);
  }

  /** What a dependent of `id` waits for beyond its start: the return of a one-shot process. */
  private completionOf(id: string): Promise<void> | undefined {
    if (!this.isService(id)) return undefined;
    return this.components.get(id)!.completed?.();
  }

  /** Records how a one-shot service ends, whether or not anything waits for it. */
  private watchCompletion(id: string): void {
    this.completionOf(id)?.then(
      () => void this.finished.add(id),
      (error: unknown) => {
        // Stopping makes it reject too; only a failure while it ran is one.
        if (this.states.get(id) !== SERVICE_STATE.RUNNING) return;
        this.states.set(id, SERVICE_STATE.FAILED);
        this.failureCauses.set(id, error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  private untilBootAborted(promise: Promise<void> | undefined): Promise<void> | undefined {
    if (!promise) return undefined;
    const signal = this.bootAbort.signal;
    signal.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  private async startOne(id: string, timeoutMs: number): Promise<void> {
    const component = this.components.get(id)!;
    this.states.set(id, SERVICE_STATE.STARTING);
    try {
      if (component.start) await withTimeout(component.start(), timeoutMs, () => `${id} did not start within ${timeoutMs}ms (lifecycle.start_timeout)`);
    } catch (error) {
      this.states.set(id, SERVICE_STATE.FAILED);
      const cause = error instanceof Error ? error : new Error(String(error));
      this.failureCauses.set(id, cause);
      // Logged here, once, as it happens: the start-up may go on a while before it gives up.
      this.logger.forEntry(id).error(`failed to start: ${errorMessage(error)}`, { error: cause });
      if (error instanceof TaskrtError && error.entryId === id) throw error;
      throw new TaskrtError("E_START", `${id} failed to start: ${errorMessage(error)}`, { entryId: id, cause: error });
    }
    this.states.set(id, SERVICE_STATE.RUNNING);
    this.startOrder.push(id);
    if (this.isService(id)) {
      const description = component.describe?.();
      this.logger.forEntry(id).debug("started", description ? { status: description } : undefined);
    }
  }

  private async failBoot(failures: Error[]): Promise<never> {
    const unique = [...new Map(failures.map((failure) => [failure.message, failure])).values()];
    await this.stop().catch((error: unknown) => unique.push(error instanceof Error ? error : new Error(String(error))));
    if (unique.length === 1) throw unique[0];
    throw new TaskrtError("E_START", `${unique.length} entries failed to start:\n  ${unique.map((failure) => failure.message).join("\n  ")}`, {
      cause: new AggregateError(unique),
    });
  }

  /** Stops every started component, dependents first; reports all failures together. */
  async stop(): Promise<void> {
    const failures: string[] = [];
    for (const id of [...this.startOrder].reverse()) {
      const component = this.components.get(id)!;
      this.states.set(id, SERVICE_STATE.STOPPING);
      const timeoutMs = this.isService(id) ? readLifecycle(this.registry.byId.get(id)!).stopTimeoutMs + STOP_GRACE_MS : DEFAULT_RESOURCE_STOP_MS;
      try {
        if (component.stop) await withTimeout(component.stop(), timeoutMs, () => `${id} did not stop within ${timeoutMs}ms (lifecycle.stop_timeout)`);
        this.states.set(id, SERVICE_STATE.STOPPED);
      } catch (error) {
        this.states.set(id, SERVICE_STATE.FAILED);
        failures.push(`${id}: ${errorMessage(error)}`);
      }
    }
    this.startOrder.length = 0;
    if (failures.length) throw new TaskrtError("E_STOP", `stopping failed for ${failures.length} entr${failures.length === 1 ? "y" : "ies"}:\n  ${failures.join("\n  ")}`);
  }

  private isService(id: string): boolean {
    const entry = this.registry.byId.get(id);
    return !!entry && !!this.kinds.get(entry.kind)?.service;
  }

  /** `lookup()` now, or once the entry has finished starting if it is on its way. */
  private whenRunning<T>(id: string, lookup: () => T): T | Promise<T> {
    const pending = this.readiness.get(id);
    const state = this.states.get(id);
    if (pending && (state === SERVICE_STATE.CREATED || state === SERVICE_STATE.STARTING)) return pending.then(lookup, lookup);
    return lookup();
  }

  private typed<T>(id: string, kindPrefix: string, code: string, what: string): T {
    const entry = this.registry.byId.get(id);
    if (!entry || !entry.kind.startsWith(kindPrefix)) {
      const candidates = this.registry.entries.filter((candidate) => candidate.kind.startsWith(kindPrefix)).map((candidate) => candidate.id);
      const close = closestMatches(id, candidates, 1)[0];
      throw new TaskrtError(code, entry ? `${id} is a ${entry.kind}, not a ${what}` : `${what} ${id} not found`, {
        hint: close ? `did you mean ${close}?` : candidates.length ? `known: ${candidates.join(", ")}` : `the registry declares no ${what}`,
      });
    }
    const state = this.states.get(id);
    if (this.isService(id) && state !== SERVICE_STATE.RUNNING) {
      const cause = state === SERVICE_STATE.FAILED ? this.failureCauses.get(id) : undefined;
      const unavailable = code === "E_DB_NOT_FOUND" ? "E_DB_UNAVAILABLE" : "E_QUEUE_UNAVAILABLE";
      if (cause) {
        throw new TaskrtError(unavailable, `${what} ${id} is not running (failed: ${causeMessage(id, cause)})`, {
          entryId: id,
          hint: `fix what stopped ${id}, then restart taskrt`,
        });
      }
      throw new TaskrtError(unavailable, `${what} ${id} is not running (${(state ?? "unknown").toLowerCase()})`, {
        hint: `give ${id} lifecycle.auto_start: true, or make an auto-started entry require it`,
      });
    }
    return this.component(id) as unknown as T;
  }
}

/** The cause's own words: without the `<id> failed to start:` it may already begin with. */
function causeMessage(id: string, cause: Error): string {
  const message = errorMessage(cause);
  const prefix = `${id} failed to start: `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}

function interrupted(): TaskrtError {
  return new TaskrtError("E_INTERRUPTED", "start-up interrupted: what had started was stopped");
}

function isBootAbort(error: unknown): boolean {
  return error instanceof TaskrtError && (error.code === "E_INTERRUPTED" || error.code === "E_BOOT_FAILED");
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  if (!(ms > 0)) return promise;
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TaskrtError("E_TIMEOUT", message())), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
