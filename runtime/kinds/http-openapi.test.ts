import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { http } from "../modules/http.ts";
import { TaskrtError } from "../errors.ts";
import { captureLogger } from "../../test/support/logs.ts";
import { checkSnippet, createComponents, registryFrom, STAND_IN_MODULE } from "../../test/support/registry.ts";
import { startTestServer } from "../../test/support/http.ts";

/** A server and a router `api`, the base of the snippets. */
const GATEWAY = `
  - name: gateway
    kind: http.service
    addr: 127.0.0.1:0
  - name: api
    kind: http.router
    meta:
      server: gateway
`;

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
    const registry = await registryFrom(
      GATEWAY +
        `
    prefix: /v1
  - name: docs
    kind: http.openapi
    meta:
      router: api
    path: /spec
    title: Empty
    version: "0"
`,
    );
    const components = createComponents(registry, logger);
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

  test("the schema fills in path /openapi.json and requires title and version", async () => {
    const docs = (title: string, version: string) => GATEWAY + `\n  - name: docs\n    kind: http.openapi\n    meta:\n      router: api\n${title}${version}`;
    const registry = await registryFrom(docs("    title: API\n", '    version: "1"\n'));
    assert.equal(registry.byId.get("app:docs")!.data.path, "/openapi.json");
    const missing = await checkSnippet(docs("    title: API\n", ""));
    assert.deepEqual(
      missing.problems.map((problem) => [problem.code, problem.entryId, problem.message]),
      [["E_SCHEMA", "app:docs", 'version is required: the API\'s version, e.g. "1.0.0" (info.version); quote it in YAML']],
    );
  });

  test("a document path that an endpoint on the same server already serves with GET is a route conflict", async () => {
    const checked = await checkSnippet(
      GATEWAY +
        `
  - name: spec
    kind: function.ts
    source: file://handler.mjs
    method: handle
  - name: spec.endpoint
    kind: http.endpoint
    meta:
      router: api
    method: GET
    path: /openapi.json
    func: spec
  - name: docs
    kind: http.openapi
    meta:
      router: api
    title: API
    version: "1"
`,
      { files: STAND_IN_MODULE },
    );
    const endpoint = checked.registry.byId.get("app:spec.endpoint")!;
    assert.deepEqual(
      checked.problems.map((problem) => [problem.code, problem.entryId, problem.message]),
      [["E_ROUTE_CONFLICT", "app:docs", `GET /openapi.json on app:gateway is already served by app:spec.endpoint (app/_index.yaml:${endpoint.location.line})`]],
    );
  });

  test("a document whose meta.router is not an http.router fails to build with E_REF_KIND", async () => {
    // The validator reports it first; the kind refuses it too when built without that check.
    const registry = await registryFrom(
      `
      - name: db
        kind: db.sql.sqlite
        file: app.db
      - name: docs
        kind: http.openapi
        meta:
          router: db
        title: API
        version: "1"
      `,
      { expectProblems: ["E_REF_KIND"] },
    );
    assert.throws(
      () => createComponents(registry, captureLogger().logger, { standIns: { "app:db": {} } }),
      (error: unknown) => {
        assert.ok(error instanceof TaskrtError);
        assert.equal(error.code, "E_REF_KIND");
        assert.equal(error.message, "app:docs: meta.router app:db is not an http.router");
        return true;
      },
    );
  });
});
