import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { HttpRouter } from "../http/router.ts";
import { MetricsCollector } from "../metrics/collector.ts";
import { Instruments } from "../metrics/instruments.ts";
import { captureLogger } from "../../test/support/logs.ts";
import { buildContext, checkSnippet, GATEWAY, registryFrom, startSnippet } from "../../test/support/registry.ts";
import taskrtMetrics, { MetricsRoute } from "./taskrt-metrics.ts";

const METRICS = `
  - name: metrics
    kind: taskrt.metrics
    meta:
      router: app:router
`;

describe("taskrt.metrics", () => {
  test("an entry with only meta.router serves /metrics with the taskrt_ prefix and the default process metrics", async () => {
    const loaded = await checkSnippet(GATEWAY + METRICS);
    try {
      assert.deepEqual(loaded.problems, []);
      assert.deepEqual(loaded.registry.byId.get("app:metrics")!.data, { path: "/metrics", prefix: "taskrt_", default_metrics: true });
    } finally {
      loaded.remove();
    }
  });

  test("a prefix that cannot start a Prometheus metric name is refused", async () => {
    const loaded = await checkSnippet(GATEWAY + METRICS + `    prefix: "9lives-"\n`);
    try {
      assert.deepEqual(
        loaded.problems.map((problem) => [problem.code, problem.entryId, problem.field]),
        [["E_SCHEMA", "app:metrics", "prefix"]],
      );
    } finally {
      loaded.remove();
    }
  });

  test("serving it where an endpoint already answers GET is a route conflict", async () => {
    const loaded = await checkSnippet(
      GATEWAY +
        `
  - name: stats
    kind: function.ts
    source: file://stats.ts
    method: handler
  - name: stats.endpoint
    kind: http.endpoint
    meta:
      router: app:router
    method: GET
    path: /metrics
    func: app:stats
` +
        METRICS,
    );
    try {
      const conflicts = loaded.problems.filter((problem) => problem.code === "E_ROUTE_CONFLICT");
      assert.deepEqual(
        conflicts.map((problem) => [problem.entryId, problem.field, problem.message]),
        [["app:metrics", "path", "GET /metrics on app:gateway is already served by app:stats.endpoint (app/_index.yaml:18)"]],
      );
    } finally {
      loaded.remove();
    }
  });

  test("a second taskrt.metrics entry is refused when the runtime builds it", async () => {
    await assert.rejects(startSnippet(GATEWAY + METRICS + METRICS.replace("name: metrics", "name: more_metrics").replace("router: app:router", "router: app:router\n    path: /more")), {
      code: "E_CREATE",
      message: "app:metrics: cannot build taskrt.metrics: app:metrics: the registry declares a second taskrt.metrics entry, app:more_metrics",
    });
  });

  test("the collector is attached while the entry runs and detached when it stops", async () => {
    const running = await startSnippet(GATEWAY + METRICS);
    assert.equal(running.supervisor.instruments.attached, true);
    const response = await fetch(`${running.url()}/metrics`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /^taskrt_startup_seconds \d/m);
    await running.stop();
    assert.equal(running.supervisor.instruments.attached, false);
  });

  test("built without the supervisor's view and instruments, it says so", async () => {
    const { logger } = captureLogger();
    const router = new HttpRouter("app:router", "");
    const registry = await registryFrom(GATEWAY + METRICS);
    const entry = registry.byId.get("app:metrics")!;
    const context = buildContext(registry, new Map([["app:router", router]]), logger);
    assert.throws(() => taskrtMetrics.create(entry, context), {
      code: "E_INTERNAL",
      message: "internal: app:metrics needs the supervisor's runtime view and instruments in its build context",
    });
  });

  test("a scrape that cannot be collected answers 500 and logs why", async () => {
    const { logger, lines } = captureLogger();
    const runtime = {
      state: () => undefined,
      finished: () => false,
      services: (): string[] => {
        throw new Error("registry gone");
      },
      bootServices: () => [],
    };
    const collector = new MetricsCollector({
      entryId: "app:metrics",
      prefix: "taskrt_",
      defaultMetrics: false,
      registry: { root: "/", entries: [], byId: new Map() },
      runtime,
      component: () => undefined as never,
      logger,
    });
    const route = new MetricsRoute("app:metrics", "/metrics", collector, new Instruments(), logger);
    const response = await route.createHandler()({} as never);
    assert.equal(response.status, 500);
    assert.deepEqual(await response.json(), { error: "metrics unavailable" });
    assert.deepEqual(lines.map((line) => [line.level, line.msg]), [["error", "cannot collect the metrics: registry gone"]]);
  });
});
