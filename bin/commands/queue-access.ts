/**
 * @module bin/commands/queue-access — a registry's queues, opened for an operator without starting
 * its services: only the queue drivers (and the databases they live in) are built and started;
 * consumers, HTTP servers and processes are not. On SQLite this works beside the running app (WAL,
 * a busy timeout, and an owner lock of its own that takes no leases).
 */
import { TaskrtError, errorMessage } from "../../runtime/errors.ts";
import type { Logger } from "../../runtime/logger.ts";
import type { Registry } from "../../runtime/registry/entry.ts";
import { resolveId } from "../../runtime/registry/entry.ts";
import { dependencyClosure, dependencyGraph, topologicalOrder } from "../../runtime/registry/graph.ts";
import type { KindDefinition } from "../../runtime/contracts/kind-definition.ts";
import type { BuildContext } from "../../runtime/contracts/build-context.ts";
import type { Component } from "../../runtime/contracts/component.ts";
import type { QueueHandle } from "../../runtime/drivers/queue/driver.ts";

/** Why an operator's command cannot reach a memory driver's queue from another process. */
export const MEMORY_QUEUE_REFUSAL =
  "the memory driver keeps its messages inside the running process, which another process cannot reach; use the dashboard (taskrt.dashboard) of the running app";

export interface OpenedQueue {
  id: string;
  driverId: string;
  driverKind: string;
  /** Built, not started: its `refusal()` answers without connecting. Undefined when the queue cannot be reached from here; `refusal` then says why. */
  handle?: QueueHandle;
  refusal?: string;
  /** Starts the queue's driver (and the database it lives in) on first use; resolves to the handle. */
  open(): Promise<QueueHandle>;
}

export interface OpenedQueues {
  queues: OpenedQueue[];
  /** The queue with this id (or `namespace:name` given as `name` when only one namespace has it). */
  find(id: string): OpenedQueue;
  close(): Promise<void>;
}

export async function openQueues(registry: Registry, kinds: ReadonlyMap<string, KindDefinition>, logger: Logger): Promise<OpenedQueues> {
  const queueEntries = registry.entries.filter((entry) => entry.kind === "queue.queue");
  const driverOf = new Map(queueEntries.map((entry) => [entry.id, resolveId(entry.data.driver as string, entry.namespace)]));
  const kindOf = (id: string) => registry.byId.get(id)?.kind ?? "unknown";
  const reachable = new Set([...driverOf.values()].filter((driverId) => kindOf(driverId) !== "queue.driver.memory"));
  const graph = dependencyGraph(registry, kinds);
  const needed = dependencyClosure(graph, [...reachable, ...queueEntries.filter((entry) => reachable.has(driverOf.get(entry.id)!)).map((entry) => entry.id)]);
  const order = topologicalOrder(graph).filter((id) => needed.has(id));
  const components = new Map<string, Component>();
  const started: Component[] = [];
  const context: BuildContext = {
    registry,
    logger,
    services: {
      database: () => Promise.reject(new TaskrtError("E_CLI", "no database is open here")),
      queue: (id) => {
        const handle = components.get(id);
        if (!handle) throw new TaskrtError("E_QUEUE_NOT_FOUND", `queue ${id} is not open here`);
        return handle as unknown as QueueHandle;
      },
    },
    component: <T = Component>(id: string) => {
      const component = components.get(id);
      if (!component) throw new TaskrtError("E_INTERNAL", `internal: ${id} is not built`);
      return component as T;
    },
  };
  const close = async () => {
    const failures: string[] = [];
    for (const component of started.reverse()) {
      try {
        await component.stop?.();
      } catch (error) {
        failures.push(errorMessage(error));
      }
    }
    if (failures.length > 0) throw new TaskrtError("E_CLI", `could not close every queue driver: ${failures.join("; ")}`);
  };
  for (const id of order) {
    const entry = registry.byId.get(id)!;
    components.set(id, kinds.get(entry.kind)!.create(entry, context));
  }
  const starting = new Map<string, Promise<void>>();
  // Services (drivers, databases) start in dependency order, each once, only when a queue on them is used.
  const startWithDependencies = (id: string): Promise<void> => {
    let promise = starting.get(id);
    if (!promise) {
      promise = (async () => {
        for (const dependency of graph.get(id) ?? []) if (needed.has(dependency)) await startWithDependencies(dependency);
        const component = components.get(id)!;
        if (!kinds.get(registry.byId.get(id)!.kind)!.service || !component.start) return;
        await component.start();
        started.push(component);
      })();
      starting.set(id, promise);
    }
    return promise;
  };
  const queues: OpenedQueue[] = queueEntries.map((entry) => {
    const driverId = driverOf.get(entry.id)!;
    const base = { id: entry.id, driverId, driverKind: kindOf(driverId) };
    if (!reachable.has(driverId)) {
      return { ...base, refusal: MEMORY_QUEUE_REFUSAL, open: () => Promise.reject(new TaskrtError("E_QUEUE_UNSUPPORTED", `cannot reach ${entry.id} from here: ${MEMORY_QUEUE_REFUSAL}`)) };
    }
    const handle = components.get(entry.id) as unknown as QueueHandle;
    return { ...base, handle, open: async () => (await startWithDependencies(entry.id), handle) };
  });
  return {
    queues,
    find: (id) => {
      const exact = queues.find((queue) => queue.id === id);
      if (exact) return exact;
      const byName = queues.filter((queue) => queue.id.slice(queue.id.lastIndexOf(":") + 1) === id);
      if (byName.length === 1) return byName[0];
      throw new TaskrtError("E_QUEUE_NOT_FOUND", `the registry has no queue ${id}`, {
        hint: queues.length ? `its queues: ${queues.map((queue) => queue.id).join(", ")}` : "it declares no queue.queue entry",
      });
    },
    close,
  };
}
