import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { pushValue, readValue } from "./values.ts";
import { LUA_STATUS, loadLuaWasm, type LuaWasm } from "./wasm.ts";

let wasm: LuaWasm;
let L: number;

before(async () => {
  wasm = await loadLuaWasm();
  L = wasm.api._luaL_newstate();
  wasm.api._luaL_openlibs(L);
});

after(() => wasm.api._lua_close(L));

/** Runs `code` (a chunk) with `args` pushed as its arguments and leaves its results on the stack. */
function run(code: string, ...args: unknown[]): number {
  const api = wasm.api;
  const top = api._lua_gettop(L);
  assert.equal(wasm.loadChunk(L, code, "=values"), LUA_STATUS.OK);
  for (const arg of args) pushValue(wasm, L, arg);
  const status = api._lua_pcallk(L, args.length, -1, 0, 0, 0);
  if (status !== LUA_STATUS.OK) {
    const message = wasm.readString(L, -1);
    api._lua_settop(L, top);
    throw new Error(message);
  }
  return api._lua_gettop(L) - top;
}

/** The JavaScript value of a Lua expression. */
function fromLua(expression: string, options?: Parameters<typeof readValue>[3]): unknown {
  run(`return ${expression}`);
  try {
    return readValue(wasm, L, -1, options);
  } finally {
    wasm.api._lua_settop(L, -2);
  }
}

/** What Lua code says about a JavaScript value: `check` is a chunk receiving it as `...`. */
function inLua(value: unknown, check: string): unknown {
  run(`local v = ...\n${check}`, value);
  try {
    return readValue(wasm, L, -1);
  } finally {
    wasm.api._lua_settop(L, -2);
  }
}

describe("reading Lua values", () => {
  test("scalars keep their type: nil, booleans, integers, floats, strings", () => {
    assert.equal(fromLua("nil"), undefined);
    assert.equal(fromLua("true"), true);
    assert.equal(fromLua("false"), false);
    assert.equal(fromLua("42"), 42);
    assert.equal(fromLua("-7"), -7);
    assert.equal(fromLua("1.5"), 1.5);
    assert.equal(fromLua("2^53"), 2 ** 53);
    assert.equal(fromLua("'hello'"), "hello");
  });

  test("strings are decoded as UTF-8, byte for byte, NUL bytes and long ones included", () => {
    assert.equal(fromLua("'héllo ✓'"), "héllo ✓");
    assert.equal(fromLua("'a\\0b'"), "a\0b");
    assert.equal(fromLua("string.rep('x', 5000)"), "x".repeat(5000));
    assert.equal(fromLua("string.rep('é', 100)"), "é".repeat(100));
  });

  test("a table with keys 1..n is an array, in order", () => {
    assert.deepEqual(fromLua("{1, 'two', 3.5, true}"), [1, "two", 3.5, true]);
    assert.deepEqual(fromLua("{[3] = 'c', [1] = 'a', [2] = 'b'}"), ["a", "b", "c"]);
  });

  test("a table with string keys is an object, and nil fields are absent", () => {
    assert.deepEqual(fromLua("{a = 1, b = 'x', c = nil}"), { a: 1, b: "x" });
  });

  test("nesting converts all the way down", () => {
    assert.deepEqual(fromLua("{tasks = {{id = 'a', n = 1}, {id = 'b', tags = {'x'}}}, count = 2}"), {
      tasks: [{ id: "a", n: 1 }, { id: "b", tags: ["x"] }],
      count: 2,
    });
  });

  test("an empty table is an empty array (Wippy encodes {} as []), or an object when asked", () => {
    assert.deepEqual(fromLua("{}"), []);
    assert.deepEqual(fromLua("{}", { emptyTable: "object" }), {});
    assert.deepEqual(fromLua("{list = {}}"), { list: [] });
  });

  test("strict reading refuses a table mixing array items and named keys", () => {
    assert.throws(() => fromLua("{1, 2, a = 3}"), { code: "E_LUA_VALUE", message: "cannot convert a table that mixes array items (keys 1..n) and named keys" });
  });

  test("strict reading refuses a sparse array", () => {
    assert.throws(() => fromLua("{1, nil, 3}"), { code: "E_LUA_VALUE", message: "cannot convert a sparse array (its keys are not 1..n without holes)" });
    assert.throws(() => fromLua("{[0] = 'zero'}"), { message: "cannot convert a sparse array (its keys are not 1..n without holes)" });
  });

  test("strict reading refuses fractional and boolean keys", () => {
    assert.throws(() => fromLua("{[1.5] = 1}"), { message: "cannot convert a table with fractional number keys" });
    assert.throws(() => fromLua("{[true] = 1}"), { message: "cannot convert a table with boolean keys" });
  });

  test("strict reading refuses functions and coroutines", () => {
    assert.throws(() => fromLua("print"), { code: "E_LUA_VALUE", message: "cannot convert a Lua function to a plain value" });
    assert.throws(() => fromLua("{f = print}"), { message: "cannot convert a Lua function to a plain value" });
    assert.throws(() => fromLua("coroutine.create(print)"), { message: "cannot convert a Lua thread to a plain value" });
  });

  test("strict reading stops at a table that contains itself", () => {
    assert.throws(() => fromLua("(function() local t = {} t.self = t return t end)()"), {
      message: "table nested deeper than 128 levels (does it contain itself?)",
    });
  });

  test("lenient reading keeps what it can: mixed and sparse tables become objects, functions vanish", () => {
    const lenient = { strict: false };
    assert.deepEqual(fromLua("{1, 2, a = 3}", lenient), { "1": 1, "2": 2, a: 3 });
    assert.deepEqual(fromLua("{1, nil, 3}", lenient), { "1": 1, "3": 3 });
    assert.deepEqual(fromLua("{a = 1, f = print}", lenient), { a: 1 });
    assert.deepEqual(fromLua("{[1.5] = 'x'}", lenient), { "1.5": "x" });
    assert.equal(fromLua("print", lenient), undefined);
  });

  test("reading leaves the Lua stack as it found it, after a refusal too", () => {
    const top = wasm.api._lua_gettop(L);
    run("return {1, {2, {3, a = 1}}}");
    assert.throws(() => readValue(wasm, L, -1));
    assert.equal(wasm.api._lua_gettop(L), top + 1);
    wasm.api._lua_settop(L, top);
  });
});

describe("pushing JavaScript values", () => {
  test("integers arrive as Lua integers, fractions as floats", () => {
    assert.equal(inLua(3, "return math.type(v)"), "integer");
    assert.equal(inLua(1.5, "return math.type(v)"), "float");
    assert.equal(inLua(-0.25, "return v * 4"), -1);
    assert.equal(inLua(2 ** 60, "return math.type(v)"), "float");
    assert.equal(inLua(2n ** 60n, "return math.type(v) .. ' ' .. tostring(v)"), "integer 1152921504606846976");
    assert.equal(inLua(Number.NaN, "return v ~= v"), true);
  });

  test("strings arrive byte for byte, NUL and multi-byte characters included", () => {
    assert.equal(inLua("a\0b", "return #v"), 3);
    assert.equal(inLua("✓", "return #v"), 3);
    assert.equal(inLua("héllo ✓", "return v:upper()"), "HéLLO ✓");
  });

  test("arrays become sequences; null and undefined items leave holes", () => {
    assert.equal(inLua([10, 20, 30], "local s = 0 for _, n in ipairs(v) do s = s + n end return #v .. ':' .. s"), "3:60");
    assert.equal(inLua([1, null, 3], "return tostring(v[2]) .. ' ' .. v[3]"), "nil 3");
  });

  test("objects become tables with string keys; null fields are absent (SQL NULL)", () => {
    assert.equal(inLua({ id: "a", result: null, n: 2 }, "local keys = 0 for _ in pairs(v) do keys = keys + 1 end return keys .. ' ' .. tostring(v.result)"), "2 nil");
  });

  test("bytes become a Lua string and dates their ISO form", () => {
    assert.equal(inLua(new Uint8Array([104, 0, 255]), "return #v .. ' ' .. v:byte(3)"), "3 255");
    assert.equal(inLua(new Date(Date.UTC(2026, 0, 2, 3, 4, 5)), "return v"), "2026-01-02T03:04:05.000Z");
  });

  test("a JavaScript value goes to Lua and back unchanged", () => {
    const value = { task: { id: "t1", action: "sum", data: { numbers: [1, 2.5, -3] } }, ok: true, list: [{ a: 1 }, { b: [true, false] }] };
    run("return ...", value);
    try {
      assert.deepEqual(readValue(wasm, L, -1), value);
    } finally {
      wasm.api._lua_settop(L, -2);
    }
  });

  test("functions and cyclic objects are refused, and nothing is left on the stack", () => {
    const top = wasm.api._lua_gettop(L);
    assert.throws(() => pushValue(wasm, L, { f: () => 1 }), { code: "E_LUA_VALUE", message: "cannot pass a JavaScript function to Lua" });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => pushValue(wasm, L, cyclic), { message: "cannot pass a value nested deeper than 128 levels to Lua (does it contain itself?)" });
    assert.throws(() => pushValue(wasm, L, Symbol("s")), { message: "cannot pass a JavaScript symbol to Lua" });
    assert.equal(wasm.api._lua_gettop(L), top);
  });
});
