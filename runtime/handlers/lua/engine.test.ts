import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { liveHandleCount } from "./handles.ts";
import { callLua, createTestEngine, testContext } from "./test-support.ts";

/** Log lines' messages, in order. */
function messages(lines: string[]): string[] {
  return lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
}

describe("loading a source", () => {
  test("lists the functions the source returns, and calls the one named", async () => {
    const engine = await createTestEngine(`return { handler = function(a, b) return a + b end, other = function() end, data = 1 }`);
    try {
      assert.deepEqual(engine.exportedFunctions(), ["handler", "other"]);
      assert.deepEqual(await callLua(engine, "handler", [2, 3]), { value: 5 });
    } finally {
      engine.close();
    }
  });

  test("a missing method is refused, naming the entry, the method and what is exported", async () => {
    const engine = await createTestEngine(`return { handler = function() end, main = function() end }`, { entryId: "app:create_task", fileName: "create_task.lua" });
    try {
      assert.throws(() => engine.method("run"), {
        code: "E_METHOD_MISSING",
        message: "app:create_task: method 'run' is not exported by create_task.lua",
        hint: "exported functions: handler, main",
      });
    } finally {
      engine.close();
    }
  });

  test("a syntax error fails with Lua's wording at file:line:column", async () => {
    await assert.rejects(createTestEngine(`local x = 1\nlocal y = = 2\nreturn {}`, { fileName: "src/broken.lua" }), {
      code: "E_SOURCE_INVALID",
      message: "app:test: src/broken.lua:2:11: unexpected symbol near '='",
    });
  });

  test("a source that does not return a table is refused with the fix", async () => {
    await assert.rejects(createTestEngine(`return function() end`), {
      code: "E_SOURCE_INVALID",
      message: "app:test: test.lua must return a table of functions, but returned a function",
      hint: "end the file with `return { handler = handler }`",
    });
  });

  test("an error raised while the source runs fails the load", async () => {
    await assert.rejects(createTestEngine(`local n = nil\nreturn { n.x }`), {
      code: "E_SOURCE_INVALID",
      message: "app:test: running test.lua failed: test.lua:2: attempt to index a nil value (local 'n')",
    });
  });

  test("inline code is named after its entry in messages", async () => {
    const engine = await createTestEngine(`return {\n  handler = function() error("boom") end }`, { fileName: undefined, entryId: "app:inline" });
    try {
      const result = await callLua(engine, "handler");
      assert.equal(result.error?.message, "app:inline:2: boom");
    } finally {
      engine.close();
    }
  });
});

describe("results and failures", () => {
  const source = `
local json = require("json")
local function raise() error("boom") end
local function returned() return nil, "failed to get HTTP context" end
local function module_error() local v, err = json.decode(42) return v, err end
local function own_error()
  return nil, errors.new({ message = "no such task", kind = errors.NOT_FOUND })
end
local function raise_object() error(errors.new("object raised")) end
local function raise_table() error({ code = 7 }) end
return {
  raise = raise, returned = returned, module_error = module_error, own_error = own_error,
  raise_object = raise_object, raise_table = raise_table,
  falsy = function() return false end,
  nothing = function() end,
  value_and_nil = function() return 1, nil end,
  value_and_number = function() return 1, 2 end,
  table = function() return { ok = true, items = {} } end,
  mixed = function() return { 1, a = 2 } end,
}`;

  test("error(...) fails the call with the message at file:line and a Lua traceback", async () => {
    const engine = await createTestEngine(source, { fileName: "create_task.lua" });
    try {
      const { error } = await callLua(engine, "raise");
      assert.equal(error?.message, "create_task.lua:3: boom");
      assert.equal((error as { code?: string }).code, "E_LUA");
      assert.match(error?.stack ?? "", /stack traceback:[\s\S]*create_task\.lua:3: in function/);
    } finally {
      engine.close();
    }
  });

  test("return nil, \"message\" fails the call, pointing at the returning function", async () => {
    const engine = await createTestEngine(source, { fileName: "create_task.lua" });
    try {
      const { error } = await callLua(engine, "returned");
      assert.equal(error?.message, "create_task.lua:4: returned returned error: failed to get HTTP context");
    } finally {
      engine.close();
    }
  });

  test("return nil, err with an error from a module fails at the line of the module call", async () => {
    const engine = await createTestEngine(source, { fileName: "create_task.lua" });
    try {
      assert.equal((await callLua(engine, "module_error")).error?.message, "create_task.lua:5: string expected");
      assert.equal((await callLua(engine, "own_error")).error?.message, "create_task.lua:7: no such task");
    } finally {
      engine.close();
    }
  });

  test("raising an error object or a table fails with its message", async () => {
    const engine = await createTestEngine(source, { fileName: "create_task.lua" });
    try {
      assert.equal((await callLua(engine, "raise_object")).error?.message, "create_task.lua:9: object raised");
      assert.equal((await callLua(engine, "raise_table")).error?.message, 'error raised with a table: {"code":7}');
    } finally {
      engine.close();
    }
  });

  test("any other return is success, false included: the caller decides", async () => {
    const engine = await createTestEngine(source);
    try {
      assert.deepEqual(await callLua(engine, "falsy"), { value: false });
      assert.deepEqual(await callLua(engine, "nothing"), { value: undefined });
      assert.deepEqual(await callLua(engine, "value_and_nil"), { value: 1 });
      assert.deepEqual(await callLua(engine, "value_and_number"), { value: 1 });
      assert.deepEqual(await callLua(engine, "table"), { value: { ok: true, items: [] } });
      assert.deepEqual(await callLua(engine, "mixed"), { value: { "1": 1, a: 2 } });
    } finally {
      engine.close();
    }
  });

  test("arguments arrive as Lua values", async () => {
    const engine = await createTestEngine(`return { main = function(task, n)
      return task.action .. ":" .. #task.data.numbers .. ":" .. math.type(n) .. ":" .. tostring(task.missing)
    end }`);
    try {
      assert.deepEqual(await callLua(engine, "main", [{ action: "sum", data: { numbers: [1, 2, 3] }, missing: null }, 4]), { value: "sum:3:integer:nil" });
    } finally {
      engine.close();
    }
  });
});

describe("require and the sandbox", () => {
  test("require of a module the entry did not declare raises an error naming entry and fix", async () => {
    await assert.rejects(createTestEngine(`local queue = require("queue")\nreturn {}`, { entryId: "app:create_task", fileName: "create_task.lua", modules: ["http"] }), {
      message: "app:create_task: running create_task.lua failed: create_task.lua:1: module 'queue' is not declared by entry app:create_task (add it to modules)",
    });
  });

  test("require inside a handler is checked the same way", async () => {
    const engine = await createTestEngine(`return { handler = function()\n  local sql = require("sql")\n  return sql\nend }`, { entryId: "app:create_task", fileName: "create_task.lua", modules: [] });
    try {
      assert.equal(
        (await callLua(engine, "handler")).error?.message,
        "create_task.lua:2: module 'sql' is not declared by entry app:create_task (add it to modules)",
      );
    } finally {
      engine.close();
    }
  });

  test("require of a module taskrt does not have says which exist", async () => {
    await assert.rejects(createTestEngine(`require("socket")\nreturn {}`), {
      message: "app:test: running test.lua failed: test.lua:1: module 'socket' not found (taskrt provides: http, queue, sql, uuid, logger, time, json, funcs, env, events, registry, io)",
    });
  });

  test("require returns one table per module, and the standard libraries by name", async () => {
    const engine = await createTestEngine(`return { check = function()
      return require("json") == require("json"), require("string") == string, require("errors") == errors
    end }`, { modules: ["json"] });
    try {
      assert.deepEqual(await callLua(engine, "check"), { value: true });
    } finally {
      engine.close();
    }
  });

  test("files, processes, the environment, code loading and debug are out of reach; time and the libraries are not", async () => {
    const engine = await createTestEngine(`return { check = function()
      local gone = {}
      for name, value in pairs({ io = io, debug = debug, package = package, load = load, loadfile = loadfile, dofile = dofile,
        execute = os.execute, exit = os.exit, remove = os.remove, rename = os.rename, tmpname = os.tmpname,
        getenv = os.getenv, dump = string.dump }) do gone[#gone + 1] = name end
      return { present = #gone, time = math.type(os.time()), date = type(os.date("%Y")), clock = type(os.clock()),
        libs = type(string.format) .. type(table.concat) .. type(math.floor) .. type(coroutine.wrap) .. type(utf8.char) }
    end }`);
    try {
      assert.deepEqual(await callLua(engine, "check"), {
        value: { present: 0, time: "integer", date: "string", clock: "number", libs: "functionfunctionfunctionfunctionfunction" },
      });
    } finally {
      engine.close();
    }
  });
});

describe("waiting without blocking", () => {
  test("two calls that each sleep 50ms overlap: both start before either ends", async () => {
    const engine = await createTestEngine(`
      local time = require("time")
      local logger = require("logger")
      return { main = function(name)
        logger:info("start " .. name)
        time.sleep("50ms")
        logger:info("end " .. name)
        return name
      end }`);
    const lines: string[] = [];
    const context = testContext({ logLines: lines });
    try {
      const results = await Promise.all([callLua(engine, "main", ["a"], context), callLua(engine, "main", ["b"], context)]);
      assert.deepEqual(results, [{ value: "a" }, { value: "b" }]);
      assert.deepEqual(messages(lines), ["start a", "start b", "end a", "end b"]);
    } finally {
      engine.close();
    }
  });

  test("many concurrent calls each get their own coroutine and result", async () => {
    const engine = await createTestEngine(`local time = require("time")
      return { main = function(n) time.sleep(n % 3) local s = 0 for i = 1, n do s = s + i end return s end }`);
    try {
      const results = await Promise.all(Array.from({ length: 100 }, (_, n) => callLua(engine, "main", [n])));
      assert.deepEqual(results.map((result) => result.value), Array.from({ length: 100 }, (_, n) => (n * (n + 1)) / 2));
    } finally {
      engine.close();
    }
  });

  test("a module call that waits works inside coroutines the handler made itself", async () => {
    const engine = await createTestEngine(`local time = require("time")
      return { main = function()
        local produce = coroutine.wrap(function()
          for i = 1, 3 do time.sleep("1ms") coroutine.yield(i * 10) end
        end)
        local collected = { produce(), produce(), produce() }
        local co = coroutine.create(function(x) time.sleep("1ms") local y = coroutine.yield(x + 1) time.sleep("1ms") return y * 2 end)
        local _, first = coroutine.resume(co, 1)
        local _, second = coroutine.resume(co, 5)
        collected[#collected + 1] = first
        collected[#collected + 1] = second
        return collected
      end }`);
    try {
      assert.deepEqual(await callLua(engine, "main"), { value: [10, 20, 30, 2, 10] });
    } finally {
      engine.close();
    }
  });

  test("pcall around a waiting module call works", async () => {
    const engine = await createTestEngine(`local time = require("time")
      return { main = function() local ok = pcall(time.sleep, "1ms") return ok end }`);
    try {
      assert.deepEqual(await callLua(engine, "main"), { value: true });
    } finally {
      engine.close();
    }
  });

  test("a module call that waits is refused where Lua cannot yield, with a message saying so", async () => {
    const engine = await createTestEngine(`local time = require("time")
      return { main = function()
        local t = { 3, 1, 2 }
        table.sort(t, function(a, b) time.sleep("1ms") return a < b end)
      end }`);
    try {
      assert.equal(
        (await callLua(engine, "main")).error?.message,
        "test.lua:4: sleep cannot wait here: it was called from inside a metamethod, an iterator or a sort comparator",
      );
    } finally {
      engine.close();
    }
  });

  test("a bare coroutine.yield() in the handler gives the event loop a turn and carries on", async () => {
    const engine = await createTestEngine(`return { main = function() coroutine.yield() return "after" end }`);
    try {
      assert.deepEqual(await callLua(engine, "main"), { value: "after" });
    } finally {
      engine.close();
    }
  });
});

describe("runaway code", () => {
  const source = `local time = require("time")
return {
  spin = function() while true do end end,
  spin_in_pcall = function() while true do pcall(function() while true do end end) end end,
  busy_then_sleep = function()
    for _ = 1, 3 do local t = os.clock() while os.clock() - t < 0.06 do end time.sleep("1ms") end
    return "done"
  end,
  ok = function() return "still serving" end,
  yield_loop = function() while true do coroutine.yield() end end,
}`;

  test("a loop of bare coroutine.yield() calls is a runaway too: yielding with nothing to wait for does not reset the limit", async () => {
    const engine = await createTestEngine(source, { maxRunMs: 100, entryId: "app:x" });
    try {
      const { error } = await callLua(engine, "yield_loop");
      assert.equal(error?.message, "test.lua:10: lua handler app:x exceeded 100ms without yielding");
      assert.equal((error as { code?: string }).code, "E_LUA_TIMEOUT");
      assert.deepEqual(await callLua(engine, "ok"), { value: "still serving" });
    } finally {
      engine.close();
    }
  });

  test("a handler looping without yielding is stopped with an error, and the entry keeps serving", async () => {
    const engine = await createTestEngine(source, { maxRunMs: 100, entryId: "app:x" });
    try {
      const { error } = await callLua(engine, "spin");
      assert.equal(error?.message, "test.lua:3: lua handler app:x exceeded 100ms without yielding");
      assert.equal((error as { code?: string }).code, "E_LUA_TIMEOUT");
      assert.deepEqual(await callLua(engine, "ok"), { value: "still serving" });
    } finally {
      engine.close();
    }
  });

  test("a pcall around the loop cannot swallow the stop", async () => {
    const engine = await createTestEngine(source, { maxRunMs: 100, entryId: "app:x" });
    try {
      const { error } = await callLua(engine, "spin_in_pcall");
      assert.match(error?.message ?? "", /lua handler app:x exceeded 100ms without yielding$/);
      assert.deepEqual(await callLua(engine, "ok"), { value: "still serving" });
    } finally {
      engine.close();
    }
  });

  test("the limit counts from the last yield: busy stretches separated by waits pass", async () => {
    const engine = await createTestEngine(source, { maxRunMs: 100 });
    try {
      assert.deepEqual(await callLua(engine, "busy_then_sleep"), { value: "done" });
    } finally {
      engine.close();
    }
  });

  test("a cancelled call stops its Lua code, and a cancelled sleep returns a CANCELED error", async () => {
    const engine = await createTestEngine(`local time = require("time")
      return {
        spin = function() while true do end end,
        sleep = function() local _, err = time.sleep("10s") return err:kind() end,
      }`, { maxRunMs: 10_000 });
    try {
      // Spinning Lua holds the event loop, so a signal can only have fired before a resume (while the call waited).
      const spinning = new AbortController();
      spinning.abort();
      const spun = await callLua(engine, "spin", [], testContext({ signal: spinning.signal }));
      assert.equal(spun.error?.message, "test.lua:3: lua handler app:test was cancelled");
      assert.equal((spun.error as { code?: string }).code, "E_CANCELED");

      const sleeping = new AbortController();
      setTimeout(() => sleeping.abort(), 20);
      assert.deepEqual(await callLua(engine, "sleep", [], testContext({ signal: sleeping.signal })), { value: "CANCELED" });
    } finally {
      engine.close();
    }
  });
});

describe("objects and errors in Lua", () => {
  test("error objects have Wippy's methods and tostring", async () => {
    const engine = await createTestEngine(`local json = require("json")
      return { main = function()
        local value, err = json.decode(5)
        return { value = value == nil, text = tostring(err), message = err:message(), kind = err:kind(),
          retryable = err:retryable(), is = errors.is(err, errors.INVALID), wrapped = tostring(errors.wrap(err, "reading task")) }
      end }`);
    try {
      assert.deepEqual(await callLua(engine, "main"), {
        value: { value: true, text: "string expected", message: "string expected", kind: "INVALID", retryable: false, is: true, wrapped: "reading task: string expected" },
      });
    } finally {
      engine.close();
    }
  });

  test("a method called with a dot instead of a colon raises an error saying how to call it", async () => {
    const engine = await createTestEngine(`local time = require("time")
      return { main = function()
        local now = time.now()
        return now.unix()
      end }`);
    try {
      assert.equal((await callLua(engine, "main")).error?.message, "test.lua:4: time.Time.unix needs its object: call it as t:unix(...), with a colon, not t.unix(...)");
    } finally {
      engine.close();
    }
  });

  test("objects handed to Lua are forgotten once Lua collects them", async () => {
    const engine = await createTestEngine(`local time = require("time")
      return { main = function() for _ = 1, 1000 do local t = time.now() end collectgarbage() collectgarbage() end }`);
    try {
      const before = liveHandleCount();
      await callLua(engine, "main");
      assert.ok(liveHandleCount() - before < 10, `${liveHandleCount() - before} handles left`);
    } finally {
      engine.close();
    }
  });
});

describe("closing", () => {
  test("closing while a call waits ends that call with an error; later calls are refused", async () => {
    const engine = await createTestEngine(`local time = require("time")
      return { main = function() time.sleep("30ms") return "woke" end }`);
    const waiting = callLua(engine, "main");
    const method = engine.method("main");
    engine.close();
    const expected = { code: "E_STOPPED", message: "app:test is stopped: its Lua state was closed" };
    assert.equal((await waiting).error?.message, expected.message);
    assert.equal((await engine.callMethod(method, [])).error?.message, expected.message);
  });
});
