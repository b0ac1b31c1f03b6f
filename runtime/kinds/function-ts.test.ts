import { describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import functionTs from "./function-ts.ts";
import type { Component } from "../contracts/component.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import type { CallableComponent } from "../handlers/handler.ts";
import type { Entry } from "../registry/entry.ts";
import { createLogger } from "../logger.ts";

const fixtures = path.resolve("test/fixtures/handlers");

function functionEntry(source: string, method: string, modules: string[] = []): Entry {
  const location = { file: path.join(fixtures, "_index.yaml"), line: 3, column: 5 };
  return {
    id: "app:greet",
    namespace: "app",
    name: "greet",
    kind: "function.ts",
    meta: {},
    data: { source: `file://${path.join(fixtures, source)}`, method, modules },
    file: location.file,
    location,
    locate: () => location,
  };
}

const context: BuildContext = {
  registry: { root: fixtures, entries: [], byId: new Map() },
  logger: createLogger({ level: "error", sink: { write() {} } }),
  services: { database: () => { throw new Error("unused"); }, queue: () => { throw new Error("unused"); } },
  component: () => { throw new Error("unused"); },
};

async function started(entry: Entry): Promise<CallableComponent> {
  const component = functionTs.create(entry, context) as Component & CallableComponent;
  await component.start!();
  return component;
}

describe("function.ts", () => {
  test("calls the exported method with the arguments and returns its value", async () => {
    const result = await (await started(functionEntry("greet.ts", "hello"))).callable().call(["ada"]);
    assert.deepEqual(result, { value: "hello ada" });
  });

  test("a throw becomes a failed result carrying the error", async () => {
    const result = await (await started(functionEntry("greet.ts", "fails"))).callable().call([]);
    assert.equal(result.error?.message, "handler exploded");
  });

  test("a module the entry did not declare is refused, naming the entry and the module", async () => {
    const result = await (await started(functionEntry("greet.ts", "sneaky", ["json"]))).callable().call([]);
    assert.equal(result.error?.message, "entry app:greet used module 'uuid' but does not declare it");
  });

  test("a declared module works", async () => {
    const result = await (await started(functionEntry("greet.ts", "encode", ["json"]))).callable().call([{ a: 1 }]);
    assert.deepEqual(result, { value: '{"a":1}' });
  });

  test("check reports a method the source does not export, listing those it does", async () => {
    const problems = await functionTs.check!(functionEntry("greet.ts", "helo", ["json", "uuid"]), context.registry);
    assert.equal(problems.length, 1);
    assert.equal(problems[0].code, "E_METHOD_MISSING");
    assert.equal(problems[0].message, `method 'helo' is not exported by file://${path.join(fixtures, "greet.ts")}`);
    assert.equal(problems[0].hint, "the module exports: encode, fails, hello, sneaky");
  });

  test("check reads the source without running its top-level code", async () => {
    const problems = await functionTs.check!(functionEntry("top-level.ts", "main"), context.registry);
    assert.deepEqual(problems, []);
    assert.equal((globalThis as Record<string, unknown>).taskrtTopLevelRan, undefined);
  });

  test("check accepts a method the default export may hold (start checks it once the code runs)", async () => {
    assert.deepEqual(await functionTs.check!(functionEntry("default-export.ts", "main"), context.registry), []);
  });

  test("check reports each taskrt module a handler imports but the entry does not declare, at the import", async () => {
    const problems = await functionTs.check!(functionEntry("greet.ts", "sneaky", ["json"]), context.registry);
    assert.deepEqual(problems, [
      {
        code: "E_MODULE_NOT_DECLARED",
        severity: "error",
        entryId: "app:greet",
        field: "modules",
        location: { file: path.join(fixtures, "greet.ts"), line: 1, column: 16 },
        message: "app:greet uses module 'uuid' but its modules do not declare it (a call would fail)",
        hint: "add uuid to app:greet's modules: [json, uuid]",
      },
    ]);
  });

  test("check follows namespace imports and the files the handler imports, in subfolders too", async () => {
    const problems = await functionTs.check!(functionEntry("namespace.ts", "main", ["uuid"]), context.registry);
    assert.deepEqual(new Set(problems.map((problem) => problem.hint)), new Set(["add sql to app:greet's modules: [uuid, queue, sql]", "add queue to app:greet's modules: [uuid, queue, sql]"]));
    const byFile = problems.map((problem) => [problem.message, problem.location] as const).sort(([, left], [, right]) => left!.file.localeCompare(right!.file));
    assert.deepEqual(byFile, [
      ["app:greet uses module 'queue' but its modules do not declare it (a call would fail)", { file: path.join(fixtures, "lib", "rows.ts"), line: 1, column: 10 }],
      ["app:greet uses module 'sql' but its modules do not declare it (a call would fail)", { file: path.join(fixtures, "namespace.ts"), line: 6, column: 24 }],
    ]);
    assert.deepEqual(await functionTs.check!(functionEntry("namespace.ts", "main", ["uuid", "sql", "queue"]), context.registry), []);
  });

  test("in a file holding several entries' methods, each entry answers for the modules its own method reaches", async () => {
    assert.deepEqual(await functionTs.check!(functionEntry("shared.ts", "hello", ["http"]), context.registry), []);
    const problems = await functionTs.check!(functionEntry("shared.ts", "count", ["http"]), context.registry);
    assert.deepEqual(
      problems.map((problem) => [problem.message, problem.location]),
      [["app:greet uses module 'sql' but its modules do not declare it (a call would fail)", { file: path.join(fixtures, "shared.ts"), line: 2, column: 16 }]],
    );
  });

  test("check reports a missing source file", async () => {
    const problems = await functionTs.check!(functionEntry("nope.ts", "main"), context.registry);
    assert.equal(problems[0].code, "E_SOURCE_MISSING");
    assert.equal(problems[0].message, `source file ${path.join(fixtures, "nope.ts")} does not exist`);
  });

  test("check reports a source that does not compile", async () => {
    const problems = await functionTs.check!(functionEntry("broken.ts", "handler"), context.registry);
    assert.equal(problems[0].code, "E_SOURCE_INVALID");
    assert.equal(problems[0].message, `cannot load ${path.join(fixtures, "broken.ts")}: Expected identifier but found end of file`);
    assert.deepEqual(problems[0].location, { file: path.join(fixtures, "broken.ts"), line: 2, column: 1 });
  });

  test("start fails with the method named when it is not exported", async () => {
    const component = functionTs.create(functionEntry("greet.ts", "missing"), context);
    await assert.rejects(component.start!(), { message: `app:greet: ${path.join(fixtures, "greet.ts")} does not export a function 'missing'` });
  });
});
