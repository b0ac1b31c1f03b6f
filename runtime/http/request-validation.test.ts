import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { http } from "../modules/http.ts";
import { TaskrtError } from "../errors.ts";
import { captureLogger } from "../../test/support/logs.ts";
import { createComponents, registryOf, STAND_IN_MODULE } from "../../test/support/registry.ts";
import { fakeFunction, startTestServer, type RouteSpec } from "../../test/support/http.ts";
import type { HttpServer } from "./server.ts";

const TASK_BODY = {
  type: "object",
  properties: {
    action: { type: "string" },
    data: { type: "object", properties: { numbers: { type: "array", items: { type: "number" } } } },
  },
  required: ["action"],
  additionalProperties: false,
};

const LIST_QUERY = {
  type: "object",
  properties: { limit: { type: "integer", minimum: 1 }, status: { type: "string", enum: ["queued", "done"] }, tag: { type: "array", items: { type: "string" } } },
  required: ["status"],
};

/** A server whose one endpoint echoes the raw body and query it was called with, counting its calls. */
async function withEndpoint(
  fields: Record<string, unknown>,
  body: (url: string, calls: () => number) => Promise<void>,
  method = "POST",
  files: Record<string, string> = {},
): Promise<void> {
  let calls = 0;
  const route: RouteSpec = {
    method,
    path: "/tasks",
    fields,
    handler: async () => {
      calls++;
      const request = http.request();
      http.response().writeJson({ body: await request.body(), query: request.queryParams() });
    },
  };
  const server = await startTestServer([route], { files });
  try {
    await body(server.url, () => calls);
  } finally {
    await server.stop();
  }
}

async function post(url: string, body: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  return { status: response.status, body: await response.json() };
}

async function get(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

describe("request body validation", () => {
  test("a body that matches the declared schema reaches the function unchanged", async () => {
    await withEndpoint({ request: { body: TASK_BODY } }, async (url, calls) => {
      const text = '{"action":"sum", "data":{"numbers":[1,2]}}';
      assert.deepEqual(await post(`${url}/tasks`, text), { status: 200, body: { body: text, query: {} } });
      assert.equal(calls(), 1);
    });
  });

  test("a body that fails the schema gets 400 naming the field, and the function is not called", async () => {
    await withEndpoint({ request: { body: TASK_BODY } }, async (url, calls) => {
      const wrongItem = await post(`${url}/tasks`, JSON.stringify({ action: "sum", data: { numbers: ["1", 2] } }));
      assert.deepEqual(wrongItem, {
        status: 400,
        body: { error: "invalid request body", details: [{ field: "/data/numbers/0", message: "must be number" }] },
      });
      const several = await post(`${url}/tasks`, JSON.stringify({ data: { numbers: 3 }, extra: true }));
      assert.deepEqual(several, {
        status: 400,
        body: {
          error: "invalid request body",
          details: [
            { field: "/action", message: "is required" },
            { field: "/extra", message: "is not allowed" },
            { field: "/data/numbers", message: "must be array" },
          ],
        },
      });
      const notAnObject = await post(`${url}/tasks`, "[1]");
      assert.deepEqual(notAnObject, { status: 400, body: { error: "invalid request body", details: [{ field: "", message: "must be object" }] } });
      assert.equal(calls(), 0);
    });
  });

  test("a body that is not JSON, or no body at all, gets 400 invalid JSON", async () => {
    await withEndpoint({ request: { body: TASK_BODY } }, async (url, calls) => {
      assert.deepEqual(await post(`${url}/tasks`, "{not json"), { status: 400, body: { error: "invalid JSON" } });
      const empty = await fetch(`${url}/tasks`, { method: "POST" });
      assert.deepEqual([empty.status, await empty.json()], [400, { error: "invalid JSON" }]);
      assert.equal(calls(), 0);
    });
  });

  test("an enum failure lists the accepted values, and at most 20 details are sent", async () => {
    const schema = { type: "object", properties: { mode: { enum: ["fast", "safe"] }, items: { type: "array", items: { type: "integer" } } } };
    await withEndpoint({ request: { body: schema } }, async (url) => {
      const mode = await post(`${url}/tasks`, JSON.stringify({ mode: "slow" }));
      assert.deepEqual(mode.body, { error: "invalid request body", details: [{ field: "/mode", message: 'must be one of "fast", "safe"' }] });
      const many = await post(`${url}/tasks`, JSON.stringify({ items: Array.from({ length: 50 }, () => "x") }));
      const details = (many.body as { details: { field: string }[] }).details;
      assert.equal(details.length, 20);
      assert.deepEqual(details[19], { field: "/items/19", message: "must be integer" });
    });
  });

  test("an endpoint without a schema passes any body to its function", async () => {
    await withEndpoint({}, async (url, calls) => {
      assert.deepEqual(await post(`${url}/tasks`, "{not json"), { status: 200, body: { body: "{not json", query: {} } });
      assert.equal(calls(), 1);
    });
  });

  test("a schema from a file:// JSON file validates like an inline one", async () => {
    const files = { "app/task.json": JSON.stringify(TASK_BODY) };
    await withEndpoint(
      { request: { body: "file://task.json" } },
      async (url) => {
        const response = await post(`${url}/tasks`, JSON.stringify({ action: 1 }));
        assert.deepEqual(response, { status: 400, body: { error: "invalid request body", details: [{ field: "/action", message: "must be string" }] } });
      },
      "POST",
      files,
    );
  });

  test("a schema file missing when the server starts fails the start with E_FILE", async () => {
    const { logger } = captureLogger();
    const registry = await registryOf(
      [
        { name: "gateway", kind: "http.service", addr: "127.0.0.1:0" },
        { name: "api", kind: "http.router", meta: { server: "gateway" } },
        { name: "create", kind: "function.ts", source: "file://handler.mjs", method: "handle" },
        { name: "tasks", kind: "http.endpoint", meta: { router: "api" }, method: "POST", path: "/tasks", func: "create", request: { body: "file://task.json" } },
      ],
      { files: { ...STAND_IN_MODULE, "app/task.json": JSON.stringify(TASK_BODY) } },
    );
    // The file was there when the registry was checked, and is gone by the time the server starts.
    const schema = join(registry.root, "app", "task.json");
    rmSync(schema);
    const components = createComponents(registry, logger, { standIns: { "app:create": fakeFunction("app:create", () => undefined) } });
    const server = components.get("app:gateway") as HttpServer;
    await assert.rejects(server.start(), (error: unknown) => {
      assert.ok(error instanceof TaskrtError);
      assert.equal(error.code, "E_FILE");
      assert.equal(error.message, `app:tasks: request.body: cannot read the schema ${schema}: no such file`);
      return true;
    });
    assert.equal(server.describe(), undefined);
  });
});

describe("query parameter validation", () => {
  test("parameters are coerced to the declared types for the check; the function still sees the strings", async () => {
    await withEndpoint(
      { request: { query: LIST_QUERY } },
      async (url, calls) => {
        const response = await get(`${url}/tasks?status=queued&limit=10&tag=a&tag=b`);
        assert.deepEqual(response, { status: 200, body: { body: "", query: { status: "queued", limit: "10", tag: "a,b" } } });
        assert.equal(calls(), 1);
      },
      "GET",
    );
  });

  test("a parameter that fails gets 400 naming the parameter", async () => {
    await withEndpoint(
      { request: { query: LIST_QUERY } },
      async (url, calls) => {
        assert.deepEqual(await get(`${url}/tasks?status=queued&limit=abc`), {
          status: 400,
          body: { error: "invalid query parameters", details: [{ field: "limit", message: "must be integer" }] },
        });
        assert.deepEqual(await get(`${url}/tasks?limit=0`), {
          status: 400,
          body: {
            error: "invalid query parameters",
            details: [
              { field: "status", message: "is required" },
              { field: "limit", message: "must be >= 1" },
            ],
          },
        });
        assert.deepEqual(await get(`${url}/tasks?status=other&status=done`), {
          status: 400,
          body: {
            error: "invalid query parameters",
            details: [
              { field: "status", message: "must be string" },
              { field: "status", message: 'must be one of "queued", "done"' },
            ],
          },
        });
        assert.equal(calls(), 0);
      },
      "GET",
    );
  });

  test("the query is checked before the body", async () => {
    await withEndpoint({ request: { query: LIST_QUERY, body: TASK_BODY } }, async (url) => {
      assert.deepEqual(await post(`${url}/tasks?limit=x`, "{not json"), {
        status: 400,
        body: {
          error: "invalid query parameters",
          details: [
            { field: "status", message: "is required" },
            { field: "limit", message: "must be integer" },
          ],
        },
      });
    });
  });
});
