import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { http } from "../modules/http.ts";
import { TaskrtError, type Problem } from "../errors.ts";
import { captureLogger, createComponents, makeEntry, makeRegistry, startTestServer } from "../http/test-helpers.ts";
import httpOpenapi from "./http-openapi.ts";

const noop = () => void http.response().writeJson({});

const TASK = { type: "object", properties: { action: { type: "string" } }, required: ["action"] };

describe("http.openapi", () => {
  test("serves the document of every endpoint on its server: paths, parameters, request bodies and responses", async () => {
    const server = await startTestServer(
      [
        {
          method: "post",
          path: "/tasks",
          handler: noop,
          fields: {
            summary: "Queue a task",
            description: "Stores the task and queues it.",
            tags: ["tasks"],
            request: { body: TASK },
            responses: { "202": { description: "Queued", body: { type: "object", properties: { id: { type: "string" } } } }, "503": { description: "Store unavailable" } },
          },
        },
        { method: "GET", path: "/tasks/{id}", handler: noop },
        {
          method: "GET",
          path: "/items/:item/parts/{part}",
          handler: noop,
          fields: {
            request: {
              query: { type: "object", properties: { limit: { type: "integer", description: "Page size." }, cursor: { type: "string" } }, required: ["limit"] },
            },
          },
        },
      ],
      { prefix: "/api", openapi: { title: "Test API", version: "1.2.3", description: "For tests.", servers: [{ url: "https://example.test", description: "prod" }] } },
    );
    try {
      const response = await fetch(`${server.url}/api/openapi.json`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "application/json");
      const validationError = {
        description: "The request does not match the declared schema.",
        content: {
          "application/json": {
            schema: {
              type: "object",
              properties: {
                error: { type: "string", enum: ["invalid JSON", "invalid request body", "invalid query parameters"] },
                details: {
                  type: "array",
                  items: {
                    type: "object",
                    properties: {
                      field: { type: "string", description: "A JSON pointer into the body, or the query parameter's name." },
                      message: { type: "string" },
                    },
                    required: ["field", "message"],
                  },
                },
              },
              required: ["error"],
            },
          },
        },
      };
      assert.deepEqual(await response.json(), {
        openapi: "3.1.0",
        info: { title: "Test API", version: "1.2.3", description: "For tests." },
        servers: [{ url: "https://example.test", description: "prod" }],
        paths: {
          "/api/tasks": {
            post: {
              summary: "Queue a task",
              description: "Stores the task and queues it.",
              tags: ["tasks"],
              operationId: "app:route0",
              requestBody: { required: true, content: { "application/json": { schema: TASK } } },
              responses: {
                "202": { description: "Queued", content: { "application/json": { schema: { type: "object", properties: { id: { type: "string" } } } } } },
                "400": validationError,
                "503": { description: "Store unavailable" },
              },
            },
          },
          "/api/tasks/{id}": {
            get: {
              operationId: "app:route1",
              parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
              responses: { default: { description: "The response of app:func1." } },
            },
          },
          "/api/items/{item}/parts/{part}": {
            get: {
              operationId: "app:route2",
              parameters: [
                { name: "item", in: "path", required: true, schema: { type: "string" } },
                { name: "part", in: "path", required: true, schema: { type: "string" } },
                { name: "limit", in: "query", required: true, description: "Page size.", schema: { type: "integer", description: "Page size." } },
                { name: "cursor", in: "query", required: false, schema: { type: "string" } },
              ],
              responses: { "400": validationError, default: { description: "The response of app:func2." } },
            },
          },
        },
      });
    } finally {
      await server.stop();
    }
  });

  test("serves at the path it declares, answers HEAD, and describes itself once started", async () => {
    const { logger } = captureLogger();
    const registry = makeRegistry([
      makeEntry("app:gateway", "http.service", { addr: "127.0.0.1:0" }),
      makeEntry("app:api", "http.router", { prefix: "/v1" }, { meta: { server: "gateway" } }),
      makeEntry("app:docs", "http.openapi", { path: "/spec", title: "Empty", version: "0" }, { meta: { router: "api" } }),
    ]);
    const components = createComponents(registry, {}, logger);
    const docs = components.get("app:docs")!;
    assert.equal(docs.describe?.(), "GET /spec: OpenAPI 3.1.0 document");
    const server = components.get("app:gateway") as unknown as { start(): Promise<void>; stop(): Promise<void>; address(): { host: string; port: number } };
    await server.start();
    try {
      const { host, port } = server.address();
      const response = await fetch(`http://${host}:${port}/v1/spec`);
      assert.deepEqual(await response.json(), { openapi: "3.1.0", info: { title: "Empty", version: "0" }, paths: {} });
      const head = await fetch(`http://${host}:${port}/v1/spec`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(docs.describe?.(), "GET /spec: OpenAPI 3.1.0 document of 0 endpoints");
    } finally {
      await server.stop();
    }
  });

  test("the schema fills in path /openapi.json and requires title and version", () => {
    const entry = makeEntry("app:docs", "http.openapi", { title: "API", version: "1" }, { meta: { router: "api" } });
    assert.equal(entry.data.path, "/openapi.json");
    assert.throws(() => makeEntry("app:docs", "http.openapi", { title: "API" }, { meta: { router: "api" } }), /must have required property 'version'/);
  });

  test("a document path that an endpoint on the same server already serves with GET is a route conflict", () => {
    const entries = [
      makeEntry("app:gateway", "http.service", { addr: "127.0.0.1:0" }),
      makeEntry("app:api", "http.router", {}, { meta: { server: "gateway" } }),
      makeEntry("app:spec", "http.endpoint", { method: "GET", path: "/openapi.json", func: "spec" }, { meta: { router: "api" } }),
      makeEntry("app:docs", "http.openapi", { title: "API", version: "1" }, { meta: { router: "api" } }),
    ];
    const problems = httpOpenapi.check!(entries[3], makeRegistry(entries)) as Problem[];
    assert.deepEqual(
      problems.map((problem) => [problem.code, problem.message]),
      [["E_ROUTE_CONFLICT", `GET /openapi.json on app:gateway is already served by app:spec (app/_index.yaml:${entries[2].location.line})`]],
    );
  });

  test("a document whose meta.router is not an http.router fails to build with E_REF_KIND", () => {
    const registry = makeRegistry([makeEntry("app:docs", "http.openapi", { title: "API", version: "1" }, { meta: { router: "db" } })]);
    assert.throws(
      () => createComponents(registry, { "app:db": {} }, captureLogger().logger),
      (error: unknown) => {
        assert.ok(error instanceof TaskrtError);
        assert.equal(error.code, "E_REF_KIND");
        assert.equal(error.message, "app:docs: meta.router app:db is not an http.router");
        return true;
      },
    );
  });
});
