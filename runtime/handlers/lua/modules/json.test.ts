import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { callLua, createTestEngine, testContext } from "../test-support.ts";

const source = `local json = require("json")
local function failure(value, err) return { value = value == nil, message = err:message(), kind = err:kind() } end
return {
  encode = function(value) return json.encode(value) end,
  encode_literal = function()
    return { json.encode({}), json.encode({ 1, 2, 3 }), json.encode({ a = { b = true } }), json.encode(nil),
      json.encode(1.5), json.encode(3), json.encode("x\\"y"), json.encode(0/0) }
  end,
  encode_mixed = function() return failure(json.encode({ 1, a = 2 })) end,
  decode = function(text)
    local value = json.decode(text)
    return { type = type(value), value = value }
  end,
  decode_array = function()
    local list = json.decode('[10, null, 30]')
    return { first = list[1], second = list[2] == nil, third = list[3], int = math.type(json.decode("2")),
      float = math.type(json.decode("2.5")), null = json.decode("null") == nil }
  end,
  decode_table = function() return failure(json.decode({ a = 1 })) end,
  decode_empty = function() return failure(json.decode("")) end,
  decode_bad = function() return failure(json.decode("{bad")) end,
}`;

async function call(method: string, args: unknown[] = []) {
  const engine = await createTestEngine(source, { modules: ["json"] });
  try {
    return await callLua(engine, method, args, testContext({ modules: ["json"] }));
  } finally {
    engine.close();
  }
}

describe("lua json module", () => {
  test("json.encode follows Wippy: {} is [], sequences are arrays, nil is null, NaN is null", async () => {
    assert.deepEqual((await call("encode_literal")).value, ["[]", "[1,2,3]", '{"a":{"b":true}}', "null", "1.5", "3", '"x\\"y"', "null"]);
  });

  test("json.encode of a table mixing array items and keys returns nil, err", async () => {
    assert.deepEqual((await call("encode_mixed")).value, {
      value: true,
      message: "cannot convert a table that mixes array items (keys 1..n) and named keys",
      kind: "INVALID",
    });
  });

  test("json.decode gives tables, 1-indexed arrays with nil for null, integers and floats", async () => {
    assert.deepEqual((await call("decode", ['{"a":[1,2],"b":"x"}'])).value, { type: "table", value: { a: [1, 2], b: "x" } });
    assert.deepEqual((await call("decode_array")).value, { first: 10, second: true, third: 30, int: "integer", float: "float", null: true });
  });

  test("json.decode of a non-string returns INVALID \"string expected\"; of \"\" INVALID; of bad JSON INTERNAL", async () => {
    assert.deepEqual((await call("decode_table")).value, { value: true, message: "string expected", kind: "INVALID" });
    assert.deepEqual((await call("decode_empty")).value, { value: true, message: "empty input: a JSON text is expected", kind: "INVALID" });
    const bad = (await call("decode_bad")).value as { message: string; kind: string };
    assert.equal(bad.kind, "INTERNAL");
    assert.match(bad.message, /^invalid JSON: /);
  });
});
