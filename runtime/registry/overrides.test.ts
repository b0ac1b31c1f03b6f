import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { REGISTRY_FIXTURES as FIXTURES } from "../../test/support/registry.ts";
import type { Registry } from "./entry.ts";
import { loadRegistry } from "./load.ts";
import { applyOverrides, parseOverride, parseScalar } from "./overrides.ts";

async function registry(): Promise<Registry> {
  const { registry, problems } = await loadRegistry(join(FIXTURES, "overrides", "_index.yaml"));
  assert.deepEqual(problems, []);
  return registry;
}

describe("applyOverrides", () => {
  test("a bare field and data.field both set the entry's data", async () => {
    const loaded = await registry();
    assert.deepEqual(applyOverrides(loaded, ["app:gateway:addr=:18080", "app:gateway:data.max_body=2048"]), []);
    assert.equal(loaded.byId.get("app:gateway")!.data.addr, ":18080");
    assert.equal(loaded.byId.get("app:gateway")!.data.max_body, 2048);
  });

  test("meta.field sets the meta, and the entry name may contain dots", async () => {
    const loaded = await registry();
    assert.deepEqual(applyOverrides(loaded, ["app:create_task.endpoint:meta.router=app:v2", "app:create_task.endpoint:path=/v2/tasks"]), []);
    const endpoint = loaded.byId.get("app:create_task.endpoint")!;
    assert.equal(endpoint.meta.router, "app:v2");
    assert.equal(endpoint.data.path, "/v2/tasks");
  });

  test("nested paths change one field and keep its siblings, creating maps that are missing", async () => {
    const loaded = await registry();
    assert.deepEqual(applyOverrides(loaded, ["app:worker:lifecycle.auto_start=false", "app:gateway:timeouts.read=5s", "app:worker:lifecycle.depends_on.0=app:db"]), []);
    assert.deepEqual(loaded.byId.get("app:worker")!.data.lifecycle, { auto_start: false, depends_on: ["app:db"] });
    assert.deepEqual(loaded.byId.get("app:gateway")!.data.timeouts, { read: "5s" });
  });

  test("kind replaces the entry's kind", async () => {
    const loaded = await registry();
    assert.deepEqual(applyOverrides(loaded, ["app:gateway:kind=http.other"]), []);
    assert.equal(loaded.byId.get("app:gateway")!.kind, "http.other");
  });

  test("an override naming no entry says so and suggests close ids", async () => {
    const loaded = await registry();
    const problems = applyOverrides(loaded, ["app:gatewy:addr=:1", "app:nope:addr=:1"]);
    assert.deepEqual(problems, [
      { code: "E_OVERRIDE", severity: "error", entryId: undefined, message: "override -o app:gatewy:addr=:1: no entry app:gatewy", hint: "did you mean app:gateway?" },
      { code: "E_OVERRIDE", severity: "error", entryId: undefined, message: "override -o app:nope:addr=:1: no entry app:nope", hint: undefined },
    ]);
  });

  test("malformed overrides explain the expected form", async () => {
    const loaded = await registry();
    const form = "expected namespace:name:field=value, e.g. -o app:gateway:addr=:8080 or -o app:db:lifecycle.auto_start=false";
    const messages = applyOverrides(loaded, [
      "app:gateway:addr",
      "app-gateway=1",
      "app:gateway=1",
      ":gateway:addr=1",
      "app:gateway:=1",
      "app:gateway:timeouts..read=1",
      "app:gateway:name=other",
      "app:gateway:kind.sub=x",
      "app:gateway:meta=x",
      "app:gateway:kind=",
      "app:gateway:addr.port=1",
      "app:worker:lifecycle.depends_on.first=x",
    ]).map((problem) => problem.message);
    assert.deepEqual(messages, [
      `override -o app:gateway:addr: no "=": ${form}`,
      `override -o app-gateway=1: ${form}`,
      `override -o app:gateway=1: ${form}`,
      `override -o :gateway:addr=1: empty namespace or name: ${form}`,
      `override -o app:gateway:=1: empty field name in "": ${form}`,
      `override -o app:gateway:timeouts..read=1: empty field name in "timeouts..read": ${form}`,
      "override -o app:gateway:name=other: the name cannot be overridden: it is part of the id",
      "override -o app:gateway:kind.sub=x: kind is a string and has no fields",
      "override -o app:gateway:meta=x: name a field of meta, e.g. meta.title",
      'override -o app:gateway:kind=: kind must be a non-empty string, found ""',
      'override -o app:gateway:addr.port=1: addr is ":8080", not a map',
      'override -o app:worker:lifecycle.depends_on.first=x: lifecycle.depends_on is a list: "first" is not an index',
    ]);
  });

  test("a path through __proto__, constructor or prototype is refused and pollutes nothing; other inherited names are plain fields", async () => {
    const loaded = await registry();
    const messages = applyOverrides(loaded, [
      "app:gateway:__proto__.polluted=1",
      "app:gateway:timeouts.constructor.prototype.polluted=1",
      "app:gateway:meta.prototype=1",
    ]).map((problem) => [problem.code, problem.message]);
    assert.deepEqual(messages, [
      ["E_OVERRIDE", 'override -o app:gateway:__proto__.polluted=1: "__proto__" cannot be overridden: it names JavaScript object internals, not a registry field'],
      ["E_OVERRIDE", 'override -o app:gateway:timeouts.constructor.prototype.polluted=1: "constructor" cannot be overridden: it names JavaScript object internals, not a registry field'],
      ["E_OVERRIDE", 'override -o app:gateway:meta.prototype=1: "prototype" cannot be overridden: it names JavaScript object internals, not a registry field'],
    ]);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
    assert.deepEqual(applyOverrides(loaded, ["app:gateway:toString.x=1"]), []);
    assert.deepEqual(Object.getOwnPropertyDescriptor(loaded.byId.get("app:gateway")!.data, "toString")?.value, { x: 1 });
  });

  test("a bad override does not stop the good ones", async () => {
    const loaded = await registry();
    const problems = applyOverrides(loaded, ["broken", "app:gateway:addr=:9"]);
    assert.equal(problems.length, 1);
    assert.equal(loaded.byId.get("app:gateway")!.data.addr, ":9");
  });
});

describe("parseOverride", () => {
  test("splits the id at the second colon and the value at the first =", () => {
    assert.deepEqual(parseOverride("app.api:create.v2:meta.title=a=b:c"), {
      entryId: "app.api:create.v2",
      target: "meta",
      path: ["title"],
      value: "a=b:c",
    });
  });
});

describe("parseScalar", () => {
  test("values are YAML scalars: numbers, booleans, null, quoted and colon-led strings", () => {
    assert.equal(parseScalar("8080"), 8080);
    assert.equal(parseScalar("0.5"), 0.5);
    assert.equal(parseScalar("true"), true);
    assert.equal(parseScalar("false"), false);
    assert.equal(parseScalar("null"), null);
    assert.equal(parseScalar(":18080"), ":18080");
    assert.equal(parseScalar('"8080"'), "8080");
    assert.equal(parseScalar("'x'"), "x");
    assert.equal(parseScalar("250ms"), "250ms");
    assert.equal(parseScalar(""), "");
  });

  test("text that YAML would read as a map or list, or cannot read, stays the string written", () => {
    assert.equal(parseScalar("a: b"), "a: b");
    assert.equal(parseScalar("[1, 2]"), "[1, 2]");
    assert.equal(parseScalar("- x"), "- x");
    assert.equal(parseScalar('"unterminated'), '"unterminated');
    const bomb = `[&a [x, x, x, x, x, x, x, x, x], &b [*a, *a, *a, *a, *a, *a, *a, *a, *a], &c [*b, *b, *b, *b, *b, *b, *b, *b, *b], [*c, *c, *c, *c, *c, *c, *c, *c, *c]]`;
    assert.equal(parseScalar(bomb), bomb);
  });
});
