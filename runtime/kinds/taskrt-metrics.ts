/**
 * @module kinds/taskrt-metrics — `taskrt.metrics`: collects the runtime's Prometheus metrics while
 * it runs and serves them on a router, as Wippy's `metrics` middleware does.
 *
 * A plain resource, not a service: the supervisor starts resources before any service, so the
 * collector is attached to the runtime's instruments before a server or consumer asks for its
 * recorders, and detached after they have stopped.
 */
import { TaskrtError, errorMessage } from "../errors.ts";
import { checkRouteConflict } from "../http/checks.ts";
import type { RouteHandler } from "../http/dispatch.ts";
import { jsonError } from "../http/exchange.ts";
import { routerOf, type BuiltinRoute } from "../http/router.ts";
import type { Logger } from "../logger.ts";
import { MetricsCollector } from "../metrics/collector.ts";
import type { Instruments } from "../metrics/instruments.ts";
import type { Component } from "../contracts/component.ts";
import { defineKind } from "../contracts/kind-definition.ts";

/** The route serving the metrics; also the entry's component. */
export class MetricsRoute implements BuiltinRoute, Component {
  readonly entryId: string;
  readonly method = "GET";
  readonly path: string;
  readonly collector: MetricsCollector;
  readonly #instruments: Instruments;
  readonly #logger: Logger;

  constructor(entryId: string, path: string, collector: MetricsCollector, instruments: Instruments, logger: Logger) {
    this.entryId = entryId;
    this.path = path;
    this.collector = collector;
    this.#instruments = instruments;
    this.#logger = logger;
  }

  async start(): Promise<void> {
    this.#instruments.attach(this.collector);
  }

  async stop(): Promise<void> {
    this.#instruments.detach(this.collector);
  }

  createHandler(): RouteHandler {
    const collector = this.collector;
    const headers = { "content-type": collector.contentType };
    return async () => {
      try {
        return new Response(await collector.metrics(), { status: 200, headers });
      } catch (error) {
        this.#logger.error(`cannot collect the metrics: ${errorMessage(error)}`, { error });
        return jsonError(500, "metrics unavailable");
      }
    };
  }

  describe(): string {
    return `GET ${this.path}: Prometheus metrics`;
  }
}

export default defineKind({
  kind: "taskrt.metrics",
  summary: "Serves Prometheus metrics (HTTP requests, queues, consumers, restarts, start-up) on an http.router.",
  references: [{ path: ["meta", "router"], kinds: ["http.router"] }],
  service: false,
  check: checkRouteConflict,
  create(entry, context) {
    const router = routerOf(entry, context);
    const { runtime, instruments } = context;
    if (!runtime || !instruments) {
      throw new TaskrtError("E_INTERNAL", `internal: ${entry.id} needs the supervisor's runtime view and instruments in its build context`, {
        entryId: entry.id,
      });
    }
    const other = context.registry.entries.find((candidate) => candidate.kind === entry.kind && candidate !== entry);
    if (other) {
      throw new TaskrtError("E_METRICS_TWICE", `${entry.id}: the registry declares a second taskrt.metrics entry, ${other.id}`, {
        entryId: entry.id,
        location: entry.location,
        hint: "declare one taskrt.metrics entry per registry; it measures the whole runtime",
      });
    }
    const logger = context.logger.forEntry(entry.id);
    const collector = new MetricsCollector({
      entryId: entry.id,
      prefix: entry.data.prefix as string,
      defaultMetrics: entry.data.default_metrics as boolean,
      registry: context.registry,
      runtime,
      component: (id) => context.component(id),
      logger,
    });
    const route = new MetricsRoute(entry.id, entry.data.path as string, collector, instruments, logger);
    router.addBuiltinRoute(route);
    return route;
  },
});
