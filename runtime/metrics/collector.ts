/**
 * @module metrics/collector — the Prometheus metrics of one runtime (prom-client): counters and
 * histograms fed by the instruments' recorders as things happen, and gauges read at scrape time
 * (queue depths through `QueueHandle.stats()`, which services run).
 *
 * Labels name declared things only — route patterns, entry ids, a fixed set of outcomes and
 * states — so the number of series stays bounded whatever the traffic.
 */
import { Counter, Gauge, Histogram, Registry as MetricsRegistry } from "prom-client";
import type { QueueHandle, QueueStats } from "../drivers/queue/driver.ts";
import { errorMessage } from "../errors.ts";
import { SERVICE_STATE, type RuntimeView } from "../contracts/build-context.ts";
import type { Logger } from "../logger.ts";
import { resolveId, type Registry } from "../registry/entry.ts";
import type { ConsumerRecorder, HttpRouteRecorder, MetricsSink } from "./instruments.ts";
import { observeFailedDelivery } from "./observed-delivery.ts";
import { processMetricsRegistry } from "./process-metrics.ts";

/** Seconds. Intake answers in well under a millisecond, so the low end is fine-grained. */
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds. Handlers range from sub-millisecond work to minutes-long jobs. */
const HANDLER_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];

const QUEUE_STATES: readonly (readonly [keyof QueueStats, string])[] = [
  ["ready", "ready"],
  ["inFlight", "in_flight"],
  ["delayed", "delayed"],
  ["dead", "dead"],
];

export interface CollectorOptions {
  entryId: string;
  /** Put before taskrt's own metric names (`taskrt_`); the default process metrics keep theirs. */
  prefix: string;
  /** Also serve prom-client's default process metrics. */
  defaultMetrics: boolean;
  registry: Registry;
  runtime: RuntimeView;
  component<T>(id: string): T;
  logger: Logger;
}

interface ObservedQueue {
  id: string;
  driverId: string;
}

export class MetricsCollector implements MetricsSink {
  readonly entryId: string;
  readonly #own = new MetricsRegistry();
  readonly #output: MetricsRegistry;
  readonly #options: CollectorOptions;
  readonly #httpRequests: Counter<"route" | "method" | "status">;
  readonly #httpDuration: Histogram<"route" | "method">;
  readonly #consumerMessages: Counter<"consumer" | "outcome">;
  readonly #handlerDuration: Histogram<"consumer">;
  readonly #restarts: Counter<"service">;
  readonly #startup: Gauge;
  readonly #unhandled: Counter<"entry">;

  constructor(options: CollectorOptions) {
    this.entryId = options.entryId;
    this.#options = options;
    const prefix = options.prefix;
    const registers = [this.#own];
    this.#httpRequests = new Counter({
      name: `${prefix}http_requests_total`,
      help: "HTTP requests answered, by route pattern, method and status.",
      labelNames: ["route", "method", "status"],
      registers,
    });
    this.#httpDuration = new Histogram({
      name: `${prefix}http_request_duration_seconds`,
      help: "Time from accepting an HTTP request to its response, by route pattern and method.",
      labelNames: ["route", "method"],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.#consumerMessages = new Counter({
      name: `${prefix}consumer_messages_total`,
      help: "Messages handled by each consumer: processed (acked), failed (each failed attempt), then retried or dead_lettered (moved to the dead-letter queue or buried).",
      labelNames: ["consumer", "outcome"],
      registers,
    });
    this.#handlerDuration = new Histogram({
      name: `${prefix}consumer_handler_duration_seconds`,
      help: "Time each consumer's handler took per message, whatever the outcome.",
      labelNames: ["consumer"],
      buckets: HANDLER_BUCKETS,
      registers,
    });
    this.#restarts = new Counter({
      name: `${prefix}process_restarts_total`,
      help: "Restarts of each process.service after its process failed.",
      labelNames: ["service"],
      registers,
    });
    this.#startup = new Gauge({
      name: `${prefix}startup_seconds`,
      help: "How long the runtime took to start every auto-started service.",
      registers,
    });

    this.#unhandled = new Counter({
      name: `${prefix}unhandled_errors_total`,
      help: 'Errors handler code leaked (a rejection nobody awaited, a throw in a timer callback), by entry ("unknown" when no call was running); logged, and the process keeps serving.',
      labelNames: ["entry"],
      registers,
    });

    const queues = observedQueues(options.registry);
    const stats = (queue: ObservedQueue) => this.#queueStats(queue);
    new Gauge({
      name: `${prefix}queue_messages`,
      help: "Messages in each queue by state: ready, in_flight, delayed, dead (read when scraped).",
      labelNames: ["queue", "state"],
      registers,
      async collect() {
        this.reset();
        const results = await Promise.all(queues.map(stats));
        queues.forEach((queue, index) => {
          const counts = results[index];
          if (counts) for (const [field, state] of QUEUE_STATES) this.set({ queue: queue.id, state }, counts[field]);
        });
      },
    });
    const runtime = options.runtime;
    const kindOf = (id: string) => options.registry.byId.get(id)?.kind ?? "unknown";
    new Gauge({
      name: `${prefix}entry_up`,
      help: "1 while a service entry is running, 0 otherwise.",
      labelNames: ["id", "kind"],
      registers,
      collect() {
        this.reset();
        for (const id of runtime.services()) this.set({ id, kind: kindOf(id) }, runtime.state(id) === SERVICE_STATE.RUNNING ? 1 : 0);
      },
    });

    // Series that exist from the start read 0 rather than missing, so rates work from the first scrape.
    for (const entry of options.registry.entries) if (entry.kind === "process.service") this.#restarts.labels(entry.id).inc(0);
    this.#output = options.defaultMetrics ? MetricsRegistry.merge([this.#own, processMetricsRegistry()]) : this.#own;
  }

  get contentType(): string {
    return this.#output.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  metrics(): Promise<string> {
    return this.#output.metrics();
  }

  httpRoute(route: string, method: string): HttpRouteRecorder {
    const requests = this.#httpRequests;
    const byStatus = new Map<number, Counter.Internal>();
    const duration = this.#httpDuration.labels(route, method);
    return {
      record(status, seconds) {
        let counter = byStatus.get(status);
        if (counter === undefined) byStatus.set(status, (counter = requests.labels(route, method, String(status))));
        counter.inc();
        duration.observe(seconds);
      },
    };
  }

  consumer(consumerId: string): ConsumerRecorder {
    const child = (outcome: string) => {
      const counter = this.#consumerMessages.labels(consumerId, outcome);
      counter.inc(0);
      return counter;
    };
    const processed = child("processed");
    const failed = child("failed");
    const retried = child("retried");
    const deadLettered = child("dead_lettered");
    const duration = this.#handlerDuration.labels(consumerId);
    const outcomes = { retried: () => retried.inc(), deadLettered: () => deadLettered.inc() };
    return {
      enabled: true,
      handled: (seconds) => duration.observe(seconds),
      processed: () => processed.inc(),
      failed: () => failed.inc(),
      observeFailure: (delivery) => observeFailedDelivery(delivery, outcomes),
    };
  }

  processRestarted(serviceId: string): void {
    this.#restarts.labels(serviceId).inc();
  }

  startupFinished(seconds: number): void {
    this.#startup.set(seconds);
  }

  unhandledError(entry: string): void {
    this.#unhandled.labels(entry).inc();
  }

  /** A queue whose driver is not running has no stats to give; a failing one is logged and left out. */
  async #queueStats(queue: ObservedQueue): Promise<QueueStats | undefined> {
    if (this.#options.runtime.state(queue.driverId) !== SERVICE_STATE.RUNNING) return undefined;
    try {
      return await this.#options.component<QueueHandle>(queue.id).stats();
    } catch (error) {
      this.#options.logger.warn(`cannot read the stats of ${queue.id}: ${errorMessage(error)}`, { queue: queue.id, error });
      return undefined;
    }
  }
}

function observedQueues(registry: Registry): ObservedQueue[] {
  return registry.entries
    .filter((entry) => entry.kind === "queue.queue" && typeof entry.data.driver === "string")
    .map((entry) => ({ id: entry.id, driverId: resolveId(entry.data.driver as string, entry.namespace) }));
}
