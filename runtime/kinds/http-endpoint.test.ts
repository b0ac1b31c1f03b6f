import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { stringify } from "yaml";
import { TaskrtError } from "../errors.ts";
import { captureLogger } from "../../test/support/logs.ts";
import { checkSnippet, createComponents, registryOf, STAND_IN_MODULE } from "../../test/support/registry.ts";
import { fakeFunction } from "../../test/support/http.ts";
import type { HttpRouter } from "../http/router.ts";

const SERVER = [
  { name: "gateway", kind: "http.service", addr: "127.0.0.1:0" },
  { name: "api", kind: "http.router", meta: { server: "gateway" }, prefix: "/api" },
];

test("an endpoint registers its route with its router, method upper-cased and func resolved in its namespace", async () => {
  const registry = await registryOf(
    [
      ...SERVER,
      { name: "create", kind: "function.ts", source: "file://handler.mjs", method: "handle" },
      { name: "tasks", kind: "http.endpoint", meta: { router: "api" }, method: "post", path: "/tasks", func: "create" },
    ],
    { files: STAND_IN_MODULE },
  );
  const components = createComponents(registry, captureLogger().logger, { standIns: { "app:create": fakeFunction("app:create", () => undefined) } });
  const router = components.get("app:api") as HttpRouter;
  assert.deepEqual(
    router.endpoints.map((endpoint) => endpoint.describe()),
    ["POST /tasks → app:create"],
  );
});

test("an endpoint whose func is not a function fails to build with E_REF_KIND", async () => {
  // The validator reports it first; the kind refuses it too when built without that check.
  const registry = await registryOf(
    [
      ...SERVER,
      { name: "not_a_function", kind: "db.sql.sqlite", file: "app.db" },
      { name: "tasks", kind: "http.endpoint", meta: { router: "api" }, method: "post", path: "/tasks", func: "app:not_a_function" },
    ],
    { expectProblems: ["E_REF_KIND"] },
  );
  assert.throws(
    () => createComponents(registry, captureLogger().logger, { standIns: { "app:not_a_function": {} } }),
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
  /** The validator's problems with an endpoint of `fields` (schema files among `files`, beside the YAML). */
  async function check(fields: Record<string, unknown>, files: Record<string, string> = {}) {
    return checkSnippet(
      stringify([
        ...SERVER,
        { name: "create", kind: "function.ts", source: "file://handler.mjs", method: "handle" },
        { name: "tasks", kind: "http.endpoint", meta: { router: "api" }, method: "post", path: "/tasks", func: "create", ...fields },
      ]),
      { files: { ...STAND_IN_MODULE, ...files } },
    );
  }

  async function problems(fields: Record<string, unknown>, files: Record<string, string> = {}) {
    const checked = await check(fields, files);
    return checked.problems.map((problem) => [problem.code, problem.field, problem.message, problem.hint]);
  }

  test("the schema accepts summary, description, tags, request schemas inline or as file://, and responses by status", async () => {
    assert.deepEqual(
      await problems(
        {
          summary: "Queue a task",
          description: "Long text",
          tags: ["tasks"],
          request: { body: { type: "object" }, query: "file://query.json" },
          responses: { "202": { description: "Queued", body: { type: "object" } }, "4XX": { description: "Refused" }, default: { description: "Other" } },
        },
        { "app/query.json": '{"type": "object"}' },
      ),
      [],
    );
    const schemaErrors = async (fields: Record<string, unknown>) =>
      (await check(fields)).problems.filter((problem) => problem.code === "E_SCHEMA").map((problem) => problem.message);
    assert.deepEqual(await schemaErrors({ responses: { "2xx": { description: "x" } } }), [
      'responses: must match ^([1-5][0-9][0-9]|[1-5]XX|default)$, found "2xx"',
      "responses: property name must be valid, found a map",
    ]);
    assert.deepEqual(await schemaErrors({ responses: { "200": { body: { type: "object" } } } }), ["responses.200.description is required: what the response means"]);
    assert.match((await schemaErrors({ request: { body: "schema.json" } })).join("\n"), /^request\.body: expected a JSON Schema \(2020-12\) .* or file:\/\/schema\.json\. .*, found "schema\.json"$/);
  });

  test("an endpoint whose schemas read and compile has no problems", async () => {
    assert.deepEqual(await problems({ request: { body: { type: "object" }, query: { type: "object" } }, responses: { "200": { description: "ok", body: { type: "array" } } } }), []);
  });

  test("a schema file that is missing or not JSON, and a schema that does not compile, are problems located at their field", async () => {
    const checked = await check(
      {
        request: { body: "file://missing.json", query: "file://broken.json" },
        responses: { "200": { description: "ok", body: { type: "nonsense" } }, "404": { description: "gone", body: "file://list.json" } },
      },
      { "app/broken.json": "{ nope", "app/list.json": "[1]" },
    );
    const directory = join(checked.registry.root, "app");
    const broken = join(directory, "broken.json");
    const list = join(directory, "list.json");
    assert.deepEqual(
        checked.problems.map((problem) => [problem.code, problem.field, problem.message, problem.hint]),
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
  });

  test("a query schema that is not of type object is a problem", async () => {
    assert.deepEqual(await problems({ request: { query: { type: "string" } } }), [
      [
        "E_SCHEMA",
        "request.query",
        'request.query must be a JSON Schema of type object whose properties are the query parameters, found type "string"',
        "write {type: object, properties: {limit: {type: integer}}, required: [...]}",
      ],
    ]);
  });
});
