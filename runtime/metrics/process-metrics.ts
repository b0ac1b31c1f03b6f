/**
 * @module metrics/process-metrics — prom-client's default metrics (CPU, memory, event-loop lag,
 * GC, handles) in one registry per process, under their standard names so stock dashboards work.
 *
 * One per process, not per runtime: the event-loop monitor and the GC observer they install are
 * never removed, and what they measure belongs to the process anyway.
 */
import { Registry, collectDefaultMetrics } from "prom-client";

let shared: Registry | undefined;

export function processMetricsRegistry(): Registry {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}
