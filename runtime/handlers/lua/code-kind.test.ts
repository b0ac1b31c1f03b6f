import { describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import functionLua from "../../kinds/function-lua.ts";
import processLua from "../../kinds/process-lua.ts";
import type { Component } from "../../contracts/component.ts";
import type { CallableComponent } from "../handler.ts";
import { buildContext, luaEntry } from "./test-support.ts";

const root = path.resolve("test/fixtures/lua/kinds");
const registry = { root, entries: [], byId: new Map() };

type Started = Component & CallableComponent;

async function started(entry: ReturnType<typeof luaEntry>): Promise<Started> {
  const component = (entry.kind === "process.lua" ? processLua : functionLua).create(entry, buildContext(root)) as Started;
  await component.start!();
  return component;
}

describe("function.lua and process.lua", () => {
  test("an empty entry gets the schema's defaults: no modules, 5s without waiting, 256MB of memory", () => {
    const entry = luaEntry("function.lua", "greet", root, { source: "file://greet.lua", method: "handler" });
    assert.deepEqual(entry.data, { source: `file://${path.join(root, "greet.lua")}`, method: "handler", modules: [], max_run_time: "5s", memory_limit: "256MB" });
    assert.equal(functionLua.service, false);
    assert.equal(processLua.service, false);
    assert.deepEqual(functionLua.references, []);
  });

  test("a started function.lua calls its method with the arguments", async () => {
    const component = await started(luaEntry("function.lua", "greet", root, { source: "file://greet.lua", method: "handler" }));
    try {
      assert.deepEqual(await component.callable().call(["ada"]), { value: "hello ada" });
    } finally {
      await component.stop!();
    }
  });

  test("inline code works as a source", async () => {
    const component = await started(luaEntry("process.lua", "inline", root, { source: "return { main = function(n) return n * 2 end }", method: "main" }));
    try {
      assert.deepEqual(await component.callable().call([21]), { value: 42 });
    } finally {
      await component.stop!();
    }
  });

  test("calling before start, or after stop, is refused", async () => {
    const entry = luaEntry("function.lua", "greet", root, { source: "file://greet.lua", method: "handler" });
    const component = functionLua.create(entry, buildContext(root)) as Started;
    assert.throws(() => component.callable(), { code: "E_NOT_STARTED", message: "app:greet was called before its code was loaded" });
    await component.start!();
    await component.stop!();
    assert.throws(() => component.callable(), { code: "E_NOT_STARTED" });
  });

  test("start fails when the method is not exported", async () => {
    const component = functionLua.create(luaEntry("function.lua", "greet", root, { source: "file://greet.lua", method: "main" }), buildContext(root)) as Started;
    await assert.rejects(component.start!(), { code: "E_METHOD_MISSING", message: "app:greet: method 'main' is not exported by greet.lua", hint: "exported functions: handler" });
  });

  test("check accepts a source that loads and exports its method", async () => {
    assert.deepEqual(await functionLua.check!(luaEntry("function.lua", "greet", root, { source: "file://greet.lua", method: "handler" }), registry), []);
  });

  test("check reports a missing source file at the source field", async () => {
    const entry = luaEntry("function.lua", "gone", root, { source: "file://gone.lua", method: "handler" });
    assert.deepEqual(await functionLua.check!(entry, registry), [
      {
        code: "E_SOURCE_MISSING",
        severity: "error",
        entryId: "app:gone",
        field: "source",
        location: entry.location,
        message: `source file ${path.join(root, "gone.lua")} does not exist`,
        hint: "source: file://name.lua is resolved from the directory of the YAML file",
      },
    ]);
  });

  test("check reports a Lua syntax error with file:line:column at the source field", async () => {
    const entry = luaEntry("function.lua", "broken", root, { source: "file://broken.lua", method: "handler" });
    const [problem] = await functionLua.check!(entry, registry);
    assert.equal(problem.code, "E_SOURCE_INVALID");
    assert.equal(problem.field, "source");
    assert.equal(problem.message, "broken.lua:3:1: unexpected symbol near 'end'");
  });

  test("check reports a method the source does not export, listing those it does", async () => {
    const entry = luaEntry("process.lua", "greet", root, { source: "file://greet.lua", method: "main" });
    assert.deepEqual(await processLua.check!(entry, registry), [
      {
        code: "E_METHOD_MISSING",
        severity: "error",
        entryId: "app:greet",
        field: "method",
        location: entry.location,
        message: "method 'main' is not exported by greet.lua",
        hint: "exported functions: handler",
      },
    ]);
  });

  test("max_run_time bounds a call's Lua code without yielding", async () => {
    const component = await started(luaEntry("function.lua", "spin", root, { source: "return { main = function() while true do end end }", method: "main", max_run_time: "50ms" }));
    try {
      assert.equal((await component.callable().call([])).error?.message, "app:spin:1: lua handler app:spin exceeded 50ms without yielding");
    } finally {
      await component.stop!();
    }
  });
});
