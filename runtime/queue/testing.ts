/**
 * @module queue/testing — test helpers for the queue kinds: entries built by hand with the schema
 * defaults a validator would fill, a logger that records its lines, and a BuildContext over them.
 */
import type { Entry, Registry } from "../registry/entry.ts";
import type { Component } from "../contracts/component.ts";
import type { RuntimeServices } from "../contracts/runtime-services.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import type { QueueHandle } from "../drivers/queue/driver.ts";
import { createLogger, type Logger } from "../logger.ts";
import { TaskrtError } from "../errors.ts";

export interface LogRecord {
  level: string;
  msg: string;
  entry?: string;
  [field: string]: unknown;
}

export function captureLogger(): { logger: Logger; lines: LogRecord[] } {
  const lines: LogRecord[] = [];
  const logger = createLogger({ level: "debug", format: "json", sink: { write: (line) => lines.push(JSON.parse(line) as LogRecord) } });
  return { logger, lines };
}

const LIFECYCLE_DEFAULTS = {
  auto_start: false,
  start_timeout: "10s",
  stop_timeout: "10s",
  stable_threshold: "5s",
  requires: [],
  depends_on: [],
  startup: "required",
  restart: { initial_delay: "1s", max_delay: "90s", backoff_factor: 2, jitter: 0.1, max_attempts: 0 },
};

/** Defaults as the schemas in `schemas/` declare them; tests override what they exercise. */
const DEFAULTS: Record<string, () => Record<string, unknown>> = {
  "queue.driver.memory": () => ({ max_length: 1000, publish_timeout: "5s", lifecycle: structuredClone(LIFECYCLE_DEFAULTS) }),
  "queue.queue": () => ({
    driver_options: {},
    max_attempts: 5,
    backoff: { initial: "1s", factor: 2, max: "5m", jitter: 0.1 },
  }),
  "queue.consumer": () => ({ concurrency: 1, prefetch: 10, lifecycle: structuredClone(LIFECYCLE_DEFAULTS) }),
};

export function makeEntry(id: string, kind: string, data: Record<string, unknown> = {}): Entry {
  const [namespace, name] = id.split(":");
  const defaults = DEFAULTS[kind]?.() ?? {};
  const merged: Record<string, unknown> = { ...defaults, ...data };
  for (const key of ["lifecycle", "backoff"]) {
    if (isObject(defaults[key]) && isObject(data[key])) merged[key] = { ...defaults[key], ...data[key] };
  }
  const location = { file: "/test/_index.yaml", line: 1, column: 1 };
  return { id, namespace, name, kind, meta: {}, data: merged, file: location.file, location, locate: () => location };
}

/** A BuildContext over hand-made components; `services.queue` finds components by id as the runtime does. */
export function makeBuildContext(entries: Entry[], components: Map<string, unknown>, logger: Logger): BuildContext {
  const registry: Registry = { root: "/test", entries, byId: new Map(entries.map((entry) => [entry.id, entry])) };
  const component = <T = Component>(id: string): T => {
    const found = components.get(id);
    if (!found) throw new TaskrtError("E_NO_COMPONENT", `no component for ${id}`);
    return found as T;
  };
  const services: RuntimeServices = {
    database: (id) => {
      throw new TaskrtError("E_DB_NOT_FOUND", `database ${id} not found`);
    },
    queue: (id) => {
      const found = components.get(id);
      if (!found || registry.byId.get(id)?.kind !== "queue.queue") {
        throw new TaskrtError("E_NOT_FOUND", `no queue.queue entry ${id}`, { hint: "did you mean app:tasks?" });
      }
      return found as unknown as QueueHandle;
    },
  };
  return { registry, logger, component, services };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await sleep(2);
  }
}
