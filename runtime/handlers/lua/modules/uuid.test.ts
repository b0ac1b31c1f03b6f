import { test } from "node:test";
import assert from "node:assert/strict";
import { callLua, createTestEngine, testContext } from "../test-support.ts";

test("uuid.v4() and uuid.v7() return standard 36-character ids; uuid.validate checks one", async () => {
  const engine = await createTestEngine(`local uuid = require("uuid")
    return { main = function()
      local a, b = uuid.v4(), uuid.v7()
      return { a, b, uuid.validate(a), uuid.validate("nope"), uuid.validate(42) }
    end }`, { modules: ["uuid"] });
  try {
    const { value } = await callLua(engine, "main", [], testContext({ modules: ["uuid"] }));
    const [v4, v7, valid, invalid, number] = value as [string, string, boolean, boolean, boolean];
    assert.match(v4, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(v7, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual([valid, invalid, number], [true, false, false]);
  } finally {
    engine.close();
  }
});
