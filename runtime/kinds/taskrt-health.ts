/**
 * @module kinds/taskrt-health — `taskrt.health`: a liveness endpoint (200 while the process runs)
 * and a readiness endpoint (200 once every required entry is ready, 503 before, with each entry's
 * status) on a router, for load balancers and orchestrators.
 */
import { TaskrtError } from "../errors.ts";
import { checkRouteConflict } from "../http/checks.ts";
import type { RouteHandler } from "../http/dispatch.ts";
import { jsonResponse } from "../http/exchange.ts";
import { routerOf, type BuiltinRoute } from "../http/router.ts";
import { parseDuration } from "../duration.ts";
import { ReadinessCheck } from "../metrics/readiness.ts";
import { resolveId, type Entry } from "../registry/entry.ts";
import type { Component } from "../contracts/component.ts";
import { runtimeOf, type RuntimeView } from "../contracts/build-context.ts";
import { defineKind } from "../contracts/kind-definition.ts";

const LIVE_BODY = JSON.stringify({ status: "ok" });

class LivenessRoute implements BuiltinRoute {
  readonly method = "GET";

  constructor(
    readonly entryId: string,
    readonly path: string,
  ) {}

  createHandler(): RouteHandler {
    const headers = { "content-type": "application/json" };
    return () => new Response(LIVE_BODY, { status: 200, headers });
  }
}

class ReadinessRoute implements BuiltinRoute {
  readonly method = "GET";

  constructor(
    readonly entryId: string,
    readonly path: string,
    private readonly readiness: ReadinessCheck,
  ) {}

  createHandler(): RouteHandler {
    return async () => {
      const report = await this.readiness.check();
      return report.ready
        ? jsonResponse(200, { status: "ready", entries: report.entries })
        : jsonResponse(503, { status: "not ready", entries: report.entries });
    };
  }
}

/** The entry's component: both routes, and the readiness check (for tests and `describe`). */
export class HealthRoutes implements Component {
  constructor(
    readonly liveness: LivenessRoute,
    readonly readiness: ReadinessRoute,
    readonly check: ReadinessCheck,
    private readonly requires: readonly string[],
  ) {}

  describe(): string {
    return `GET ${this.liveness.path} (liveness), GET ${this.readiness.path} (readiness of ${this.requires.length} entr${this.requires.length === 1 ? "y" : "ies"})`;
  }
}

/** The declared `requires`, resolved, each a service; unset, the services started at boot. */
function requiredEntries(entry: Entry, runtime: RuntimeView): string[] {
  const declared = entry.data.requires as string[] | undefined;
  if (declared === undefined) return [...runtime.bootServices()];
  const services = new Set(runtime.services());
  return declared.map((reference, index) => {
    const id = resolveId(reference, entry.namespace);
    if (!services.has(id)) {
      throw new TaskrtError("E_HEALTH_REQUIRES", `${entry.id}: requires ${id}, which is not a service, so it is never started or stopped`, {
        entryId: entry.id,
        location: entry.locate(["requires", index]),
        hint: `list service entries (databases, queue drivers, servers, consumers, process services)${services.size ? `, e.g. ${[...services].slice(0, 3).join(", ")}` : ""}`,
      });
    }
    return id;
  });
}

export default defineKind({
  kind: "taskrt.health",
  summary: "Serves liveness and readiness endpoints on an http.router; readiness is 503 until the required entries are ready.",
  references: [
    { path: ["meta", "router"], kinds: ["http.router"] },
    { path: ["requires"], kinds: [] },
  ],
  service: false,
  check: checkRouteConflict,
  create(entry, context) {
    const router = routerOf(entry, context);
    const runtime = runtimeOf(entry, context);
    const requires = requiredEntries(entry, runtime);
    const check = new ReadinessCheck(requires, {
      registry: context.registry,
      runtime,
      services: context.services,
      component: (id) => context.component(id),
      logger: context.logger.forEntry(entry.id),
      probeTimeoutMs: parseDuration(entry.data.probe_timeout as string | number),
    });
    const liveness = new LivenessRoute(entry.id, entry.data.liveness as string);
    const readiness = new ReadinessRoute(entry.id, entry.data.readiness as string, check);
    router.addBuiltinRoute(liveness);
    router.addBuiltinRoute(readiness);
    return new HealthRoutes(liveness, readiness, check, requires);
  },
});
