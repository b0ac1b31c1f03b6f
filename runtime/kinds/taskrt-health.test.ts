import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { HttpRouter } from "../http/router.ts";
import { captureLogger } from "../../test/support/logs.ts";
import { buildContext, checkSnippet, GATEWAY, registryFrom, startSnippet } from "../../test/support/registry.ts";
import taskrtHealth from "./taskrt-health.ts";

const HEALTH = `
  - name: health
    kind: taskrt.health
    meta:
      router: app:router
`;

const DATABASE = `
  - name: db
    kind: db.sql.sqlite
    file: "{dir}/app.db"
    lifecycle:
      auto_start: true
`;

describe("taskrt.health", () => {
  test("an entry with only meta.router serves /healthz and /readyz, probing databases for up to 2s", async () => {
    const loaded = await checkSnippet(GATEWAY + HEALTH);
    try {
      assert.deepEqual(loaded.problems, []);
      assert.deepEqual(loaded.registry.byId.get("app:health")!.data, { liveness: "/healthz", readiness: "/readyz", probe_timeout: "2s" });
    } finally {
      loaded.remove();
    }
  });

  test("by default readiness covers every service started at boot", async () => {
    const running = await startSnippet(GATEWAY + DATABASE + HEALTH);
    try {
      const response = await fetch(`${running.url()}/readyz`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "application/json");
      assert.deepEqual(await response.json(), { status: "ready", entries: { "app:gateway": "running", "app:db": "running" } });
      const live = await fetch(`${running.url()}/healthz`);
      assert.deepEqual([live.status, await live.json()], [200, { status: "ok" }]);
    } finally {
      await running.stop();
    }
  });

  test("with requires, readiness covers those entries only, and a required service that was never started makes it 503", async () => {
    const running = await startSnippet(
      GATEWAY +
        DATABASE +
        `
  - name: spare
    kind: db.sql.sqlite
    file: "{dir}/spare.db"
` +
        HEALTH +
        `    requires: [db, app:spare]\n`,
    );
    try {
      const response = await fetch(`${running.url()}/readyz`);
      assert.equal(response.status, 503);
      assert.deepEqual(await response.json(), { status: "not ready", entries: { "app:db": "running", "app:spare": "not started" } });
    } finally {
      await running.stop();
    }
  });

  test("requiring an entry that is not a service is refused when the runtime builds it", async () => {
    await assert.rejects(
      startSnippet(
        GATEWAY +
          `
  - name: driver
    kind: queue.driver.memory
  - name: jobs
    kind: queue.queue
    driver: app:driver
` +
          HEALTH +
          `    requires: [app:jobs]\n`,
      ),
      {
        code: "E_CREATE",
        message: "app:health: cannot build taskrt.health: app:health: requires app:jobs, which is not a service, so it is never started or stopped",
      },
    );
  });

  test("requiring an entry that does not exist is a reference problem", async () => {
    const loaded = await checkSnippet(GATEWAY + HEALTH + `    requires: [app:nowhere]\n`);
    try {
      assert.deepEqual(
        loaded.problems.map((problem) => [problem.code, problem.entryId, problem.field]),
        [["E_REF_UNRESOLVED", "app:health", "requires[0]"]],
      );
    } finally {
      loaded.remove();
    }
  });

  test("liveness and readiness on one path, or on a path an endpoint serves, are route conflicts", async () => {
    const loaded = await checkSnippet(
      GATEWAY +
        `
  - name: ping
    kind: function.ts
    source: file://ping.ts
    method: handler
  - name: ping.endpoint
    kind: http.endpoint
    meta:
      router: app:router
    method: GET
    path: /healthz
    func: app:ping
` +
        HEALTH +
        `    readiness: /ready
  - name: health2
    kind: taskrt.health
    meta:
      router: app:router
    liveness: /live
    readiness: /live
`,
    );
    try {
      const conflicts = loaded.problems.filter((problem) => problem.code === "E_ROUTE_CONFLICT");
      assert.deepEqual(
        conflicts.map((problem) => [problem.entryId, problem.field, problem.message]),
        [
          ["app:health", "liveness", "GET /healthz on app:gateway is already served by app:ping.endpoint (app/_index.yaml:18)"],
          ["app:health2", "readiness", "GET /live on app:gateway is already served by app:health2 (app/_index.yaml:31)"],
        ],
      );
    } finally {
      loaded.remove();
    }
  });

  test("built without the supervisor's view, it says so", async () => {
    const { logger } = captureLogger();
    const registry = await registryFrom(GATEWAY + HEALTH);
    const entry = registry.byId.get("app:health")!;
    const context = buildContext(registry, new Map([["app:router", new HttpRouter("app:router", "")]]), logger);
    assert.throws(() => taskrtHealth.create(entry, context), {
      code: "E_INTERNAL",
      message: "internal: app:health needs the supervisor's runtime view in its build context",
    });
  });
});
