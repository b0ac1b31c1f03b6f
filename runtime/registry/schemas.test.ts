import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { projectSchemas, readSchemaDirectory, SCHEMAS_DIRECTORY, SchemaSet } from "./schemas.ts";

describe("projectSchemas", () => {
  test("holds every schema file but the manifest; kinds are all of them but lifecycle", () => {
    const files = readdirSync(SCHEMAS_DIRECTORY).filter((file) => file.endsWith(".json") && file !== "manifest.json");
    const schemas = projectSchemas();
    assert.deepEqual([...schemas.schemas.keys()].sort(), files.map((file) => file.slice(0, -5)).sort());
    assert.ok(schemas.kinds().includes("queue.consumer"));
    assert.ok(!schemas.kinds().includes("lifecycle"));
    assert.equal(schemas.kind("lifecycle"), undefined);
    assert.equal(schemas.kind("no.such.kind"), undefined);
  });

  test("every kind schema compiles in strict mode", () => {
    const schemas = projectSchemas();
    for (const kind of schemas.kinds()) assert.equal(typeof schemas.validator(kind), "function", kind);
  });

  test("every schema file is a valid JSON Schema (start-up trusts them and skips this check)", () => {
    const untrusted = new SchemaSet(readSchemaDirectory(SCHEMAS_DIRECTORY));
    for (const kind of untrusted.kinds()) assert.equal(typeof untrusted.validator(kind), "function", kind);
    const broken = new SchemaSet(new Map([["x.y", { $id: "https://taskrt.dev/schemas/x.y.json", type: "object", properties: { a: { type: "no-such-type" } } }]]));
    assert.throws(() => broken.validator("x.y"), /schema is invalid: data\/properties\/a\/type must be equal to one of the allowed values/);
  });

  test("validators are compiled once and reused", () => {
    const schemas = projectSchemas();
    assert.equal(schemas.validator("db.sql.sqlite"), schemas.validator("db.sql.sqlite"));
    assert.equal(schemas.validator("no.such.kind"), undefined);
  });

  test("defaults beside a $ref are filled, and so are the defaults inside what it refers to", () => {
    const validate = projectSchemas().validator("queue.consumer")!;
    const entry: Record<string, unknown> = { name: "worker", kind: "queue.consumer", queue: "app:q", func: "app:f" };
    assert.equal(validate(entry), true);
    assert.deepEqual(entry.lifecycle, {
      auto_start: false,
      start_timeout: "10s",
      stop_timeout: "10s",
      stable_threshold: "5s",
      requires: [],
      depends_on: [],
      startup: "required",
      restart: { initial_delay: "1s", max_delay: "90s", backoff_factor: 2, jitter: 0.1, max_attempts: 0 },
    });
    const queue: Record<string, unknown> = { name: "q", kind: "queue.queue", driver: "app:d", backoff: { factor: 3 } };
    assert.equal(projectSchemas().validator("queue.queue")!(queue), true);
    assert.deepEqual(queue.backoff, { initial: "1s", factor: 3, max: "5m", jitter: 0.1 });
  });

  test("two entries never share a filled-in default object", () => {
    const validate = projectSchemas().validator("http.service")!;
    const first: Record<string, unknown> = { name: "a", kind: "http.service", addr: ":1" };
    const second: Record<string, unknown> = { name: "b", kind: "http.service", addr: ":2" };
    validate(first);
    validate(second);
    assert.notEqual(first.timeouts, second.timeouts);
    assert.notEqual(first.lifecycle, second.lifecycle);
  });
});

describe("SchemaSet.resolve", () => {
  test("follows file, file#pointer and local #pointer references", () => {
    const schemas = projectSchemas();
    const consumer = schemas.kind("queue.consumer")!;
    const lifecycle = schemas.resolve(consumer.properties!.lifecycle, "queue.consumer");
    assert.equal(lifecycle.owner, "lifecycle");
    assert.equal(lifecycle.schema.title, "lifecycle");
    const timeout = schemas.resolve(consumer.properties!.timeout, "queue.consumer");
    assert.ok(timeout.schema.anyOf);
    const local = schemas.resolve(lifecycle.schema.properties!.start_timeout, lifecycle.owner);
    assert.equal(local.schema, timeout.schema);
  });

  test("a reference to nothing is an internal error naming it", () => {
    const schemas = new SchemaSet(new Map([["x", { $id: "https://taskrt.dev/test/x.json", type: "object" }]]));
    assert.throws(() => schemas.resolve({ $ref: "x.json#/definitions/missing" }, "x"), {
      message: "internal: $ref x.json#/definitions/missing in x resolves to nothing",
    });
  });
});

test("readSchemaDirectory keys schemas by file name without .json", () => {
  const schemas = readSchemaDirectory(SCHEMAS_DIRECTORY);
  assert.equal(schemas.get("http.endpoint")!.title, "http.endpoint");
  assert.equal(schemas.has("manifest"), false);
});
