import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { callLua, createTestEngine, testContext } from "../test-support.ts";

const source = `local logger = require("logger")
local json = require("json")
return {
  levels = function()
    logger:debug("d")
    logger:info("processing task", { id = "t1", n = 2, ratio = 0.5, ok = true, nested = { a = 1 } })
    logger:warn("w", { 1, 2 })
    local _, err = json.decode(1)
    logger:error("failed", { error = err })
  end,
  derived = function()
    local child = logger:with({ request = "r1" }):named("worker")
    child:info("hello", { extra = 1 })
    logger:info("plain")
  end,
  dot = function() logger.info("oops") end,
  no_message = function() logger:info({}) end,
}`;

async function call(method: string) {
  const engine = await createTestEngine(source, { modules: ["logger", "json"], entryId: "app:worker" });
  const lines: string[] = [];
  try {
    const result = await callLua(engine, method, [], testContext({ modules: ["logger", "json"], logLines: lines, entryId: "app:worker" }));
    return { result, lines: lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
  } finally {
    engine.close();
  }
}

function withoutTime(line: Record<string, unknown>): Record<string, unknown> {
  const { time: _time, ...rest } = line;
  return rest;
}

describe("lua logger module", () => {
  test("logger:level(message, fields) logs with the entry id; error objects log as their message", async () => {
    const { lines } = await call("levels");
    assert.deepEqual(lines.map(withoutTime), [
      { level: "debug", msg: "d", entry: "app:worker" },
      { level: "info", msg: "processing task", entry: "app:worker", id: "t1", n: 2, ratio: 0.5, ok: true, nested: { a: 1 } },
      { level: "warn", msg: "w", entry: "app:worker" },
      { level: "error", msg: "failed", entry: "app:worker", error: "string expected" },
    ]);
  });

  test("logger:with(fields) and logger:named(name) derive loggers that add fields", async () => {
    const { lines } = await call("derived");
    assert.deepEqual(lines.map(withoutTime), [
      { level: "info", msg: "hello", entry: "app:worker", request: "r1", logger: "worker", extra: 1 },
      { level: "info", msg: "plain", entry: "app:worker" },
    ]);
  });

  test("logger.info with a dot raises an error saying to use a colon", async () => {
    const { result } = await call("dot");
    assert.equal(result.error?.message, "test.lua:16: logger.info needs its object: call it as logger:info(...), with a colon, not logger.info(...)");
  });

  test("a message that is not a string raises an error", async () => {
    const { result } = await call("no_message");
    assert.equal(result.error?.message, "test.lua:17: bad argument #1 to 'logger:info' (string expected, got table)");
  });
});

describe("print and warn", () => {
  test("log as info and warn records of the entry, with print's tabs and tostring", async () => {
    const engine = await createTestEngine(`return { run = function() print("a", 1, nil, true); warn("w", "x"); warn("@on") end }`, { modules: [], entryId: "app:printer" });
    const lines: string[] = [];
    try {
      await callLua(engine, "run", [], testContext({ modules: [], logLines: lines, entryId: "app:printer" }));
    } finally {
      engine.close();
    }
    assert.deepEqual(
      lines.map((line) => withoutTime(JSON.parse(line) as Record<string, unknown>)),
      [
        { level: "info", msg: "a\t1\tnil\ttrue", entry: "app:printer" },
        { level: "warn", msg: "wx", entry: "app:printer" },
      ],
    );
  });
});
