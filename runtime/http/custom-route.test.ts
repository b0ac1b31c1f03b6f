import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { defineKind } from "../contracts/kind-definition.ts";
import { createLogger } from "../logger.ts";
import { startRuntime, type Runtime } from "../runtime.ts";
import { serveRoute } from "./custom-route.ts";
import type { HttpServer } from "./server.ts";

/** A kind as a project would write one: its schema carried in the definition, routes through serveRoute. */
const echo = defineKind({
  kind: "test.echo",
  summary: "Echoes, or fails.",
  schema: { properties: { meta: { type: "object", properties: { router: { type: "string" } }, required: ["router"] }, greeting: { type: "string", default: "hello" } } },
  references: [{ path: ["meta", "router"], kinds: ["http.router"] }],
  service: false,
  create(entry, context) {
    serveRoute(entry, context, { method: "get", path: "/greet/{who}", handle: (request, params) => new Response(`${entry.data.greeting} ${params.who} (${new URL(request.url).pathname})`) });
    serveRoute(entry, context, {
      method: "GET",
      path: "/throws",
      handle: () => {
        throw new Error("thrown at once");
      },
    });
    serveRoute(entry, context, { method: "GET", path: "/rejects", handle: async () => Promise.reject(new Error("rejected later")) });
    return {};
  },
});

const REGISTRY = `namespace: app
entries:
  - { name: gateway, kind: http.service, addr: "127.0.0.1:0", lifecycle: { auto_start: true } }
  - { name: router, kind: http.router, meta: { server: gateway }, prefix: /api }
  - { name: echo, kind: test.echo, meta: { router: router } }
`;

describe("serveRoute: a route of a kind from outside taskrt", () => {
  let directory: string;
  let runtime: Runtime;
  let url: string;
  const lines: string[] = [];
  before(async () => {
    directory = mkdtempSync(path.join(tmpdir(), "taskrt-custom-route-"));
    writeFileSync(path.join(directory, "_index.yaml"), REGISTRY);
    const logger = createLogger({ level: "error", format: "json", sink: { write: (line) => lines.push(line) } });
    runtime = await startRuntime({ path: path.join(directory, "_index.yaml"), kinds: [echo], logger });
    const { host, port } = runtime.component<HttpServer>("app:gateway").address();
    url = `http://${host}:${port}`;
  });
  after(async () => {
    await runtime?.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  test("answers under the router's prefix with the path's parameters and the schema's defaults", async () => {
    const response = await fetch(`${url}/api/greet/ada%20l`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "hello ada l (/api/greet/ada%20l)");
  });

  test("a handler that throws or rejects answers 500, logged with the entry's id, and the server keeps serving", async () => {
    for (const [route, message] of [["/api/throws", "thrown at once"], ["/api/rejects", "rejected later"]]) {
      const response = await fetch(`${url}${route}`);
      assert.deepEqual([response.status, await response.json()], [500, { error: "internal error" }]);
      const logged = lines.map((line) => JSON.parse(line)).find((record) => String(record.msg).includes(message));
      assert.equal(logged?.entry, "app:echo");
      assert.equal(logged?.msg, `GET ${route.slice("/api".length)} failed: ${message}`);
    }
    assert.equal((await fetch(`${url}/api/greet/bo`)).status, 200);
  });
});
