import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TaskrtError, type Problem } from "../errors.ts";
import httpEndpoint from "./http-endpoint.ts";
import { captureLogger, createComponents, fakeFunction, makeEntry, makeRegistry } from "../http/test-helpers.ts";
import type { HttpRouter } from "../http/router.ts";

function registry(func: string) {
  return makeRegistry([
    makeEntry("app:gateway", "http.service", { addr: "127.0.0.1:0" }),
    makeEntry("app:api", "http.router", { prefix: "/api" }, { meta: { server: "gateway" } }),
    makeEntry("app:tasks", "http.endpoint", { method: "post", path: "/tasks", func }, { meta: { router: "api" } }),
  ]);
}

test("an endpoint registers its route with its router, method upper-cased and func resolved in its namespace", () => {
  const components = createComponents(registry("create"), { "app:create": fakeFunction("app:create", () => undefined) }, captureLogger().logger);
  const router = components.get("app:api") as HttpRouter;
  assert.deepEqual(
    router.endpoints.map((endpoint) => endpoint.describe()),
    ["POST /tasks → app:create"],
  );
});

test("an endpoint whose func is not a function fails to build with E_REF_KIND", () => {
  assert.throws(
    () => createComponents(registry("app:not_a_function"), { "app:not_a_function": {} }, captureLogger().logger),
    (error: unknown) => {
      assert.ok(error instanceof TaskrtError);
      assert.equal(error.code, "E_REF_KIND");
      assert.equal(error.message, "app:tasks: func app:not_a_function cannot be called");
      assert.equal(error.hint, "point func at a function.ts or function.lua entry");
      return true;
    },
  );
});

/** JSON.parse's own wording, which differs between Node versions. */
function parseError(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${text} parsed`);
}

describe("http.endpoint API declarations", () => {
  const endpoint = (fields: Record<string, unknown>) =>
    makeEntry("app:tasks", "http.endpoint", { method: "post", path: "/tasks", func: "create", ...fields }, { meta: { router: "api" } });

  function problems(fields: Record<string, unknown>) {
    const entry = endpoint(fields);
    const registry = makeRegistry([
      makeEntry("app:gateway", "http.service", { addr: "127.0.0.1:0" }),
      makeEntry("app:api", "http.router", {}, { meta: { server: "gateway" } }),
      entry,
    ]);
    return (httpEndpoint.check!(entry, registry) as Problem[]).map((problem) => [problem.code, problem.field, problem.message, problem.hint]);
  }

  test("the schema accepts summary, description, tags, request schemas inline or as file://, and responses by status", () => {
    assert.doesNotThrow(() =>
      endpoint({
        summary: "Queue a task",
        description: "Long text",
        tags: ["tasks"],
        request: { body: { type: "object" }, query: "file:///project/app/query.json" },
        responses: { "202": { description: "Queued", body: { type: "object" } }, "4XX": { description: "Refused" }, default: { description: "Other" } },
      }),
    );
    assert.throws(() => endpoint({ responses: { "2xx": { description: "x" } } }), /property name must be valid/);
    assert.throws(() => endpoint({ responses: { "200": { body: { type: "object" } } } }), /must have required property 'description'/);
    assert.throws(() => endpoint({ request: { body: "schema.json" } }), /must match pattern "\^file:\/\/"/);
  });

  test("an endpoint whose schemas read and compile has no problems", () => {
    assert.deepEqual(problems({ request: { body: { type: "object" }, query: { type: "object" } }, responses: { "200": { description: "ok", body: { type: "array" } } } }), []);
  });

  test("a schema file that is missing or not JSON, and a schema that does not compile, are problems located at their field", () => {
    const directory = mkdtempSync(join(tmpdir(), "taskrt-endpoint-"));
    try {
      const broken = join(directory, "broken.json");
      writeFileSync(broken, "{ nope");
      const list = join(directory, "list.json");
      writeFileSync(list, "[1]");
      assert.deepEqual(
        problems({
          request: { body: `file://${join(directory, "missing.json")}`, query: `file://${broken}` },
          responses: { "200": { description: "ok", body: { type: "nonsense" } }, "404": { description: "gone", body: `file://${list}` } },
        }),
        [
          ["E_FILE", "request.body", `request.body: cannot read the schema ${join(directory, "missing.json")}: no such file`, "write file://path/to/schema.json relative to the YAML file, or put the schema inline"],
          ["E_FILE", "request.query", `request.query: the schema ${broken} is not valid JSON: ${parseError("{ nope")}`, "a schema file holds one JSON Schema object"],
          [
            "E_SCHEMA",
            "responses.200.body",
            'responses.200.body is not a valid JSON Schema: schema is invalid: data/type must be equal to one of the allowed values, data/type must be array, data/type must match a schema in anyOf',
            "write a JSON Schema (2020-12), e.g. {type: object, properties: {action: {type: string}}}",
          ],
          ["E_FILE", "responses.404.body", `responses.404.body: the schema ${list} must hold a JSON object`, "a schema file holds one JSON Schema object"],
        ],
      );
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test("a query schema that is not of type object is a problem", () => {
    assert.deepEqual(problems({ request: { query: { type: "string" } } }), [
      [
        "E_SCHEMA",
        "request.query",
        'request.query must be a JSON Schema of type object whose properties are the query parameters, found type "string"',
        "write {type: object, properties: {limit: {type: integer}}, required: [...]}",
      ],
    ]);
  });
});
