import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { TaskrtError, type Problem } from "../errors.ts";
import { defineKind } from "../contracts/kind-definition.ts";
import { fixtureKinds, REGISTRY_FIXTURES as FIXTURES } from "../../test/support/registry.ts";
import type { Registry } from "./entry.ts";
import { loadRegistry } from "./load.ts";
import { applyOverrides } from "./overrides.ts";
import { SchemaSet } from "./schemas.ts";
import { REFERENCE_LIFECYCLE_PATHS, sortProblems, validateRegistry } from "./validate.ts";

async function load(name: string): Promise<Registry> {
  const { registry, problems } = await loadRegistry(join(FIXTURES, name));
  assert.deepEqual(problems, []);
  return registry;
}
const where = (problem: Problem): string =>
  problem.location ? `${problem.location.file.slice(FIXTURES.length)}:${problem.location.line}:${problem.location.column}` : "";
const summary = (problems: Problem[]): string[][] => problems.map((problem) => [problem.code, where(problem), problem.message]);

const RESTART_DEFAULTS = { initial_delay: "1s", max_delay: "90s", backoff_factor: 2, jitter: 0.1, max_attempts: 0 };
const LIFECYCLE_DEFAULTS = {
  auto_start: false,
  start_timeout: "10s",
  stop_timeout: "10s",
  stable_threshold: "5s",
  requires: [],
  depends_on: [],
  startup: "required",
  restart: RESTART_DEFAULTS,
};

describe("validateRegistry: problems", () => {
  test("every problem of a registry is reported, located at its field and sorted by line", async () => {
    const problems = await validateRegistry(await load("invalid"), fixtureKinds());
    const file = "invalid/_index.yaml";
    assert.deepEqual(summary(problems), [
      ["E_SCHEMA", `${file}:8:5`, 'synchronous: must be one of "OFF", "NORMAL", "FULL", "EXTRA", found "fast"'],
      ["E_SCHEMA", `${file}:16:5`, "max_attempts: must be >= 1, found 0"],
      ["E_REF_KIND", `${file}:20:5`, "queue: app:db is a db.sql.sqlite, expected queue.queue"],
      ["E_REF_UNRESOLVED", `${file}:21:5`, "func: no entry app:handlr"],
      ["W_UNKNOWN_FIELD", `${file}:22:5`, 'unknown field "concurency": queue.consumer has no such field and ignores it'],
      ["E_SCHEMA", `${file}:23:5`, "concurrency: must be <= 1000, found 5000"],
      ["W_UNKNOWN_FIELD", `${file}:27:9`, 'unknown field "lifecycle.restart.max_attempt": lifecycle.restart of queue.consumer has no such field and ignores it'],
      ["E_SCHEMA", `${file}:29:5`, "meta.router is required: the http.router this endpoint belongs to"],
      ["E_SCHEMA", `${file}:32:5`, 'path: must match ^/, found "tasks"'],
      ["E_SOURCE_MISSING", `${file}:37:5`, `source file ${join(FIXTURES, "invalid", "handler.ts")} does not exist`],
      ["E_SCHEMA", `${file}:44:5`, 'modules: must not list the same item twice, found "sql" twice'],
      ["E_SCHEMA", `${file}:44:25`, 'modules[2]: must be one of "http", "queue", "sql", "uuid", "logger", "time", "json", "funcs", "env", "events", "registry", "io", found "nope"'],
      ["E_UNKNOWN_KIND", `${file}:47:5`, 'unknown kind "queue.consumr"'],
    ]);
  });

  test("problems name the entry and field, unknown fields are warnings, and hints suggest the likely fix", async () => {
    const problems = await validateRegistry(await load("invalid"), fixtureKinds());
    const byField = new Map(problems.map((problem) => [`${problem.entryId} ${problem.field}`, problem]));
    assert.equal(byField.get("app:worker concurency")!.severity, "warning");
    assert.equal(byField.get("app:worker concurency")!.hint, 'did you mean "concurrency"?');
    assert.equal(byField.get("app:worker lifecycle.restart.max_attempt")!.hint, 'did you mean "max_attempts"?');
    assert.equal(byField.get("app:worker func")!.hint, "did you mean app:handler?");
    assert.equal(byField.get("app:worker queue")!.hint, "entries that fit: app:tasks");
    assert.equal(byField.get("app:worker concurrency")!.hint, "Handlers running at once.");
    assert.equal(
      byField.get("app:mystery kind")!.hint,
      'did you mean "queue.consumer"? known kinds: db.sql.sqlite, function.ts, http.endpoint, http.router, http.service, queue.consumer, queue.driver.memory, queue.queue',
    );
    assert.deepEqual(
      problems.filter((problem) => problem.severity === "warning").map((problem) => problem.code),
      ["W_UNKNOWN_FIELD", "W_UNKNOWN_FIELD"],
    );
  });

  test("unknown fields are only warnings, listing the known fields when none is close", async () => {
    const registry = await load("valid");
    applyOverrides(registry, ["app:db:colour=red", "app:tasks:lifecycle.auto_start=true"]);
    const problems = await validateRegistry(registry, fixtureKinds());
    assert.deepEqual(
      problems.map((problem) => [problem.code, problem.severity, where(problem), problem.message, problem.hint]),
      [
        [
          "W_UNKNOWN_FIELD",
          "warning",
          "valid/_index.yaml:6:5",
          'unknown field "colour": db.sql.sqlite has no such field and ignores it',
          "known fields: file, busy_timeout, synchronous, batch_max_transactions, batch_max_wait, read_connection, writer, options, pool, lifecycle",
        ],
        [
          "W_UNKNOWN_FIELD",
          "warning",
          "valid/_index.yaml:15:5",
          'unknown field "lifecycle": queue.queue has no such field and ignores it',
          "known fields: driver, queue_name, driver_options, max_attempts, backoff, dead_letter, retention, rate",
        ],
      ],
    );
  });

  test("keys named like JavaScript internals (__proto__, constructor, toString) are plain unknown fields and change no prototype", async () => {
    const registry = await load("prototype-keys");
    const problems = await validateRegistry(registry, fixtureKinds());
    const file = "prototype-keys/_index.yaml";
    assert.deepEqual(summary(problems), [
      ["W_UNKNOWN_FIELD", `${file}:6:5`, 'unknown field "__proto__": db.sql.sqlite has no such field and ignores it'],
      ["W_UNKNOWN_FIELD", `${file}:7:5`, 'unknown field "constructor": db.sql.sqlite has no such field and ignores it'],
      ["W_UNKNOWN_FIELD", `${file}:8:5`, 'unknown field "toString": db.sql.sqlite has no such field and ignores it'],
      ["W_UNKNOWN_FIELD", `${file}:10:7`, 'unknown field "lifecycle.hasOwnProperty": lifecycle of db.sql.sqlite has no such field and ignores it'],
    ]);
    const data = registry.byId.get("app:db")!.data;
    assert.equal(Object.getPrototypeOf(data), Object.prototype, "the entry's data keeps its prototype");
    assert.equal((data as { polluted?: unknown }).polluted, undefined);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  test("a kind's check only sees entries that passed their schema", async () => {
    const problems = await validateRegistry(await load("invalid"), fixtureKinds());
    const missing = problems.filter((problem) => problem.code === "E_SOURCE_MISSING").map((problem) => problem.entryId);
    assert.deepEqual(missing, ["app:handler"], "app:helper's source is missing too, but its modules are invalid");
  });

  test("lifecycle requires and depends_on must name existing services; bare names resolve in the entry's namespace", async () => {
    const problems = await validateRegistry(await load("refs"), fixtureKinds());
    const file = "refs/_index.yaml";
    assert.deepEqual(summary(problems), [
      [
        "E_REF_KIND",
        `${file}:11:18`,
        "lifecycle.requires[0]: app:handler is a function.ts, expected a service (db.sql.sqlite, http.service, queue.consumer, queue.driver.memory)",
      ],
      ["E_REF_UNRESOLVED", `${file}:11:27`, "lifecycle.requires[1]: no entry app:ghost"],
      ["E_REF_UNRESOLVED", `${file}:12:20`, "lifecycle.depends_on[0]: no entry app:dbx"],
      ["E_REF_UNRESOLVED", `${file}:15:5`, "driver: no entry other.ns:driver"],
      ["E_REF_KIND", `${file}:17:7`, "dead_letter.queue: app:db is a db.sql.sqlite, expected queue.queue"],
    ]);
    assert.deepEqual(
      problems.map((problem) => problem.hint),
      [undefined, undefined, "did you mean app:db or app:dlq?", undefined, undefined],
    );
  });

  test("a dependency cycle is reported once, naming the whole loop, at the reference leaving its first entry", async () => {
    const problems = await validateRegistry(await load("cycle"), fixtureKinds());
    assert.deepEqual(summary(problems), [["E_CYCLE", "cycle/_index.yaml:7:18", "dependency cycle: app:a → app:b → app:c → app:a"]]);
    assert.equal(problems[0].field, "lifecycle.requires[0]");
    assert.equal(problems[0].hint, "nothing in a cycle can start first: remove one of these references");
  });

  test("overridden values are validated like written ones, located at the field or else the entry", async () => {
    const registry = await load("valid");
    assert.deepEqual(applyOverrides(registry, ["app:worker:concurrency=5000", "app:db:lifecycle.auto_start=yes"]), []);
    assert.deepEqual(summary(await validateRegistry(registry, fixtureKinds())), [
      ["E_SCHEMA", "valid/_index.yaml:10:7", 'lifecycle.auto_start: must be true or false, found "yes"'],
      ["E_SCHEMA", "valid/_index.yaml:24:5", "concurrency: must be <= 1000, found 5000"],
    ]);
  });

  test("a duration that is neither milliseconds nor a duration string says what a duration is", async () => {
    const registry = await load("valid");
    applyOverrides(registry, ["app:db:busy_timeout=5 seconds"]);
    assert.deepEqual(summary(await validateRegistry(registry, fixtureKinds())), [
      ["E_SCHEMA", "valid/_index.yaml:6:5", 'busy_timeout: expected milliseconds, or a duration such as "250ms", "10s", "1m30s", found "5 seconds"'],
    ]);
  });

  test("a duration longer than a Node.js timer holds is refused where it is written; a schedule's interval may be longer", async () => {
    const registry = await load("valid");
    assert.deepEqual(
      applyOverrides(registry, ["app:worker:timeout=720h", "app:db:busy_timeout=2147483648", "app:db:lifecycle.stop_timeout=596h31m23.647s", "app:driver:publish_timeout=25d"]),
      [],
    );
    const problems = await validateRegistry(registry, fixtureKinds());
    const hint = "a Node.js timer cannot wait longer (it would fire at once); where the field is optional, leaving it out means no limit";
    assert.deepEqual(
      problems.map((problem) => [problem.code, where(problem), problem.message, problem.hint]),
      [
        ["E_SCHEMA", "valid/_index.yaml:6:5", "busy_timeout: must be at most 596h31m23.647s, found 2147483648", hint],
        [
          "E_SCHEMA",
          "valid/_index.yaml:12:5",
          'publish_timeout: expected milliseconds, or a duration such as "250ms", "10s", "1m30s", found "25d"',
          undefined,
        ],
        ["E_SCHEMA", "valid/_index.yaml:24:5", 'timeout: must be at most 596h31m23.647s, found "720h"', hint],
      ],
      "596h31m23.647s itself is accepted",
    );
    const schedules = await loadRegistry(join(FIXTURES, "long-interval"));
    const schedule = defineKind({ kind: "queue.schedule", summary: "test", service: true, references: [{ path: ["queue"], kinds: ["queue.queue"] }], create: () => ({}) });
    assert.deepEqual(await validateRegistry(schedules.registry, fixtureKinds([schedule])), []);
  });

  test("a missing required field is explained by its description, or named as missing when it has none", async () => {
    const registry = await load("valid");
    delete registry.byId.get("app:tasks")!.data.driver;
    assert.deepEqual(summary(await validateRegistry(registry, fixtureKinds())), [
      ["E_SCHEMA", "valid/_index.yaml:17:5", "driver is required: the queue.driver.* entry that stores this queue"],
    ]);
    const schemas = new SchemaSet(new Map([["test.thing", { $id: "https://taskrt.dev/test/test.thing.json", type: "object", properties: { secret: { type: "string" } }, required: ["secret"] }]]));
    applyOverrides(registry, ["app:handler:kind=test.thing"]);
    const single = { ...registry, entries: [registry.byId.get("app:handler")!] };
    const kinds = new Map([["test.thing", defineKind({ kind: "test.thing", summary: "test", service: false, references: [], create: () => ({}) })]]);
    const errors = (await validateRegistry(single, kinds, schemas)).filter((problem) => problem.severity === "error");
    assert.deepEqual(summary(errors), [["E_SCHEMA", "valid/_index.yaml:19:5", 'missing required field "secret"']]);
  });

  test("a check that throws becomes a problem of its entry; a thrown TaskrtError keeps its code", async () => {
    const throwing = (error: unknown) =>
      defineKind({
        kind: "function.ts",
        summary: "test",
        service: false,
        references: [],
        check() {
          throw error;
        },
        create() {
          throw new Error("not used");
        },
      });
    const plain = await validateRegistry(await load("valid"), fixtureKinds([throwing(new Error("boom"))]));
    assert.deepEqual(summary(plain), [["E_INTERNAL", "valid/_index.yaml:19:5", "internal: the function.ts check failed: boom"]]);
    assert.equal(plain[0].entryId, "app:handler");
    const user = await validateRegistry(await load("valid"), fixtureKinds([throwing(new TaskrtError("E_METHOD_MISSING", "method: handle is not exported", { hint: "export it" }))]));
    assert.deepEqual(summary(user), [["E_METHOD_MISSING", "valid/_index.yaml:19:5", "method: handle is not exported"]]);
    assert.equal(user[0].hint, "export it");
  });

  test("a kind without a schema is reported as a bug in taskrt", async () => {
    const registry = await load("valid");
    applyOverrides(registry, ["app:handler:kind=function.made_up"]);
    const kinds = fixtureKinds([defineKind({ kind: "function.made_up", summary: "test", service: false, references: [], create: () => ({}) })]);
    assert.deepEqual(summary(await validateRegistry(registry, kinds)), [
      ["E_INTERNAL", "valid/_index.yaml:20:5", "internal: kind function.made_up has no schema (expected schemas/function.made_up.json, or a schema in its definition)"],
    ]);
  });
});

describe("validateRegistry: defaults", () => {
  test("a valid registry has no problems, and every entry gets its schema's defaults, nested ones included", async () => {
    const registry = await load("valid");
    assert.deepEqual(await validateRegistry(registry, fixtureKinds()), []);
    const data = (id: string) => registry.byId.get(id)!.data;
    assert.deepEqual(data("app:db"), {
      file: ":memory:",
      busy_timeout: "5s",
      synchronous: "NORMAL",
      batch_max_transactions: 1000,
      batch_max_wait: "20ms",
      read_connection: true,
      writer: "main",
      lifecycle: { ...LIFECYCLE_DEFAULTS, auto_start: true },
    });
    assert.deepEqual(data("app:worker"), {
      queue: "tasks",
      func: "handler",
      concurrency: 1,
      prefetch: 10,
      lifecycle: { ...LIFECYCLE_DEFAULTS, requires: ["db"] },
    });
    assert.deepEqual(data("app:tasks"), {
      driver: "app:driver",
      driver_options: {},
      max_attempts: 5,
      backoff: { initial: "1s", factor: 2, max: "5m", jitter: 0.1 },
    });
    assert.deepEqual(data("app:gateway").timeouts, { read: "30s", write: "30s", idle: "60s" });
    assert.deepEqual(data("app:handler").modules, []);
    assert.deepEqual(data("app:api"), { prefix: "/api" });
    assert.deepEqual(registry.byId.get("app:api")!.meta, { server: "gateway" });
  });

  test("validating twice changes nothing more", async () => {
    const registry = await load("valid");
    await validateRegistry(registry, fixtureKinds());
    const once = JSON.stringify(registry.entries.map((entry) => [entry.data, entry.meta]));
    assert.deepEqual(await validateRegistry(registry, fixtureKinds()), []);
    assert.equal(JSON.stringify(registry.entries.map((entry) => [entry.data, entry.meta])), once);
  });
});

describe("sortProblems", () => {
  test("orders by file, line and column, unlocated problems first, keeping the order of equals", () => {
    const at = (file: string, line: number, column: number, message: string): Problem => ({
      code: "E_SCHEMA",
      severity: "error",
      message,
      location: { file, line, column },
    });
    const unlocated: Problem = { code: "E_OVERRIDE", severity: "error", message: "o" };
    const sorted = sortProblems([at("/b.yaml", 1, 1, "b1"), at("/a.yaml", 9, 2, "a9"), at("/a.yaml", 9, 1, "a9x"), unlocated, at("/a.yaml", 9, 1, "a9y")]);
    assert.deepEqual(sorted.map((problem) => problem.message), ["o", "a9x", "a9y", "a9", "b1"]);
  });
});

test("REFERENCE_LIFECYCLE_PATHS are lifecycle.requires and lifecycle.depends_on", () => {
  assert.deepEqual(REFERENCE_LIFECYCLE_PATHS, [
    ["lifecycle", "requires"],
    ["lifecycle", "depends_on"],
  ]);
});
