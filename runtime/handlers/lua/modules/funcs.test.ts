import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startSnippet, type StartedSnippet } from "../../../../test/support/registry.ts";
import type { CallableComponent } from "../../handler.ts";

const CALLER = `local funcs = require("funcs")
local time = require("time")
return {
  sync = function(a, b)
    local sum, err = funcs.call("app:add", a, b)
    if err then return nil, err end
    return sum
  end,
  failing = function()
    local value, err = funcs.call("app:fail", "boom")
    return { value = value, message = err:message(), kind = err:kind() }
  end,
  bad_target = function(target)
    local value, err = funcs.call(target)
    return { value = value, message = err:message(), kind = err:kind() }
  end,
  parallel = function()
    local f1 = funcs.async("app:add", 1, 2)
    local f2 = funcs.async("app:slow_add", 10, 20)
    local p1, ok1 = f1:response():receive()
    local p2, ok2 = f2:channel():receive()
    local r = f2:result()
    return { a = p1:data(), b = p2:data(), ok1 = ok1, ok2 = ok2, complete = f2:is_complete(), result = r:data(), canceled = f2:is_canceled() }
  end,
  async_error = function()
    local f = funcs.async("app:fail", "late")
    local payload, ok = f:response():receive()
    local err, has = f:error()
    local value, result_err = f:result()
    return { payload = payload, ok = ok, has = has, message = err:message(), same = result_err:message() == err:message() }
  end,
  timeout = function()
    local exec = funcs.new():with_options({ timeout = 50 }):with_context({ trace = "x" })
    local value, err = exec:call("app:sleepy")
    return { value = value, message = err:message(), kind = err:kind() }
  end,
  cancel = function()
    local f = funcs.async("app:sleepy")
    local pending = f:result()
    local cancelled = f:cancel()
    local payload, ok = f:response():receive()
    local err = f:error()
    return { pending = pending, cancelled = cancelled, ok = ok, is_canceled = f:is_canceled(), kind = err:kind() }
  end,
  executor = function()
    local exec = funcs.new()
    return exec:call("app:add", 40, 2)
  end,
}`;

const CALLEES = `local time = require("time")
return {
  add = function(a, b) return a + b end,
  slow_add = function(a, b) time.sleep("20ms") return a + b end,
  fail = function(why) return nil, "failed: " .. why end,
  sleepy = function() time.sleep("10s") return "woke" end,
}`;

describe("lua funcs module", () => {
  let app: StartedSnippet;
  const call = async (method: string, ...args: unknown[]) =>
    app.supervisor.component<CallableComponent>(`app:${method}`).callable().call(args);

  before(async () => {
    const callee = (name: string) => `
      - name: ${name}
        kind: function.lua
        source: file://callees.lua
        method: ${name}
        modules: [time]`;
    const caller = (name: string) => `
      - name: ${name}
        kind: function.lua
        source: file://caller.lua
        method: ${name}
        modules: [funcs, time]`;
    const yaml = [
      ...["add", "slow_add", "fail", "sleepy"].map(callee),
      ...["sync", "failing", "bad_target", "parallel", "async_error", "timeout", "cancel", "executor"].map(caller),
    ].join("\n");
    app = await startSnippet(yaml, { files: { "app/caller.lua": CALLER, "app/callees.lua": CALLEES } });
  });
  after(async () => {
    await app?.stop();
  });

  test("funcs.call runs another function entry and returns its result", async () => {
    assert.deepEqual(await call("sync", 2, 3), { value: 5 });
  });

  test("funcs.call returns nil, err with the callee's message when it fails", async () => {
    const { value } = await call("failing");
    assert.deepEqual(value, { message: "app/callees.lua:5: fail returned error: failed: boom", kind: "INTERNAL" });
  });

  test("a target without a namespace or an unknown entry is refused with a clear error", async () => {
    assert.deepEqual((await call("bad_target", "add")).value, { message: "funcs: target 'add' has no namespace: write it as namespace:name", kind: "INVALID" });
    assert.deepEqual((await call("bad_target", "app:nope")).value, { message: "app:nope is not an entry of this registry", kind: "NOT_FOUND" });
  });

  test("funcs.async starts calls that run side by side; receive() waits for each result", async () => {
    assert.deepEqual((await call("parallel")).value, { a: 3, b: 30, ok1: true, ok2: true, complete: true, result: 30, canceled: false });
  });

  test("a failing async call: receive() gives nil, false and future:error() the error", async () => {
    assert.deepEqual((await call("async_error")).value, { ok: false, has: true, message: "app/callees.lua:5: fail returned error: failed: late", same: true });
  });

  test("an executor's timeout cancels a call that takes longer", async () => {
    assert.deepEqual((await call("timeout")).value, { message: "funcs: app:sleepy did not answer within 50ms", kind: "TIMEOUT" });
  });

  test("future:cancel() stops a running call", async () => {
    assert.deepEqual((await call("cancel")).value, { cancelled: true, ok: false, is_canceled: true, kind: "CANCELED" });
  });

  test("calls through funcs.new() work like funcs.call", async () => {
    assert.deepEqual(await call("executor"), { value: 42 });
  });
});
