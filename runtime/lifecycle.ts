/**
 * @module lifecycle — reads an entry's `lifecycle` block (defaults already filled from
 * schemas/lifecycle.json) into milliseconds, resolved ids and a restart backoff policy.
 */
import { readFileSync } from "node:fs";
import type { BackoffPolicy } from "./backoff.ts";
import { parseDuration } from "./duration.ts";
import { packagePath } from "./package-root.ts";
import { resolveId, type Entry } from "./registry/entry.ts";

export interface Lifecycle {
  autoStart: boolean;
  startTimeoutMs: number;
  stopTimeoutMs: number;
  stableThresholdMs: number;
  /** `requires` and `depends_on`, merged, resolved to full ids. */
  requires: string[];
  startup: "required" | "optional";
  restart: BackoffPolicy & { maxAttempts: number };
}

interface LifecycleData {
  auto_start?: boolean;
  start_timeout?: string | number;
  stop_timeout?: string | number;
  stable_threshold?: string | number;
  requires?: string[];
  depends_on?: string[];
  startup?: "required" | "optional";
  restart?: { initial_delay?: string | number; max_delay?: string | number; backoff_factor?: number; jitter?: number; max_attempts?: number };
}

// Validation fills these in; reading them from the schema keeps hand-built entries (tests) honest.
const schema = JSON.parse(readFileSync(packagePath("schemas", "lifecycle.json"), "utf8"));
const DEFAULTS = schemaDefaults(schema.properties) as Required<LifecycleData>;
const RESTART_DEFAULTS = schemaDefaults(schema.properties.restart.properties) as Required<NonNullable<LifecycleData["restart"]>>;

function schemaDefaults(properties: Record<string, { default?: unknown }>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(properties).map(([key, property]) => [key, property.default]));
}

export function readLifecycle(entry: Entry): Lifecycle {
  const data = { ...DEFAULTS, ...(entry.data.lifecycle as LifecycleData | undefined) };
  const restart = { ...RESTART_DEFAULTS, ...data.restart };
  const requires = [...new Set([...data.requires, ...data.depends_on].map((id) => resolveId(id, entry.namespace)))];
  return {
    autoStart: data.auto_start,
    startTimeoutMs: parseDuration(data.start_timeout),
    stopTimeoutMs: parseDuration(data.stop_timeout),
    stableThresholdMs: parseDuration(data.stable_threshold),
    requires,
    startup: data.startup,
    restart: {
      initialMs: parseDuration(restart.initial_delay),
      maxMs: parseDuration(restart.max_delay),
      factor: restart.backoff_factor,
      jitter: restart.jitter,
      maxAttempts: restart.max_attempts,
    },
  };
}
