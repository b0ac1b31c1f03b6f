import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { callLua, createTestEngine, testContext } from "../test-support.ts";

/** Channels, select, coroutine.spawn and timers inside one call (no worker needed). */
const source = `local time = require("time")
return {
  pool = function(jobs, workers)
    local work, results = channel.new(4), channel.new()
    for w = 1, workers do
      coroutine.spawn(function()
        while true do
          local job, ok = work:receive()
          if not ok then break end
          results:send({ worker = w, square = job * job })
        end
      end)
    end
    coroutine.spawn(function()
      for i = 1, jobs do work:send(i) end
      work:close()
    end)
    local sum, seen = 0, {}
    for _ = 1, jobs do
      local r = results:receive()
      sum = sum + r.square
      seen[r.worker] = true
    end
    local used = 0
    for _ in pairs(seen) do used = used + 1 end
    return { sum = sum, workers_used = used }
  end,
  closed = function()
    local ch = channel.new(2)
    ch:send("a")
    ch:close()
    local v1, ok1 = ch:receive()
    local v2, ok2 = ch:receive()
    local sent, err = pcall(ch.send, ch, "b")
    return { v1, ok1, v2 == nil, ok2, sent, tostring(err):match("send on closed channel") ~= nil }
  end,
  select_timeout = function()
    local never = channel.new()
    local timeout = time.after("20ms")
    local r = channel.select { never:case_receive(), timeout:case_receive() }
    return { timed_out = r.channel == timeout, got_time = r.value ~= nil and r.value:unix() > 0 }
  end,
  select_default = function()
    local ch = channel.new(1)
    local empty = channel.select { ch:case_receive(), default = true }
    local sent = channel.select { ch:case_send(7), default = true }
    local full = channel.select { ch:case_send(8), default = true }
    local got = channel.select { ch:case_receive() }
    return { empty.default, sent.channel == ch, full.default, got.value, got.ok }
  end,
  ticker = function(n)
    local ticker = time.ticker("5ms")
    local ticks, last = 0, nil
    while ticks < n do
      local t = ticker:channel():receive()
      if last and t:before(last) then return "went back in time" end
      last = t
      ticks = ticks + 1
    end
    ticker:stop()
    return ticks
  end,
  sleep = function()
    local start = time.now()
    local order = {}
    coroutine.spawn(function() time.sleep("1ms"); table.insert(order, "spawned") end)
    time.sleep("30ms")
    local elapsed = time.now():sub(start)
    -- On a starved machine the 30ms timer can come due before the spawned one was even set:
    -- keep sleeping (each sleep yields to the spawned coroutine) until it has run.
    for _ = 1, 500 do
      if #order > 0 then break end
      time.sleep("10ms")
    end
    table.insert(order, "main")
    return { order = order, at_least = elapsed:milliseconds() >= 29 }
  end,
  durations = function()
    local d, err = time.parse_duration("1h30m45s500ms")
    local bad, bad_err = time.parse_duration("soon")
    local zero, zero_err = time.after(0)
    return { d:hours(), d:minutes(), d:seconds(), d:milliseconds(), bad == nil, bad_err:kind(), zero == nil, zero_err:message() }
  end,
  deadlock = function()
    local ch = channel.new()
    ch:receive()
  end,
  unbuffered = function()
    local ch = channel.new()
    local log = {}
    coroutine.spawn(function() ch:send(1); table.insert(log, "sent") end)
    table.insert(log, "before")
    local v = ch:receive()
    table.insert(log, "received " .. v)
    time.sleep("1ms")
    return log
  end,
  no_process = function()
    local ok, err = pcall(process.inbox)
    return { process.pid() == nil, tostring(err):match("not in a process") ~= nil }
  end,
}`;

async function call(method: string, args: unknown[] = []) {
  const engine = await createTestEngine(source, { modules: ["time"] });
  try {
    return await callLua(engine, method, args, testContext({ modules: ["time"] }));
  } finally {
    engine.close();
  }
}

describe("lua channels, select, coroutine.spawn and timers", () => {
  test("a worker pool fed through a channel: every job done once, by several coroutines", async () => {
    assert.deepEqual(await call("pool", [20, 3]), { value: { sum: 2870, workers_used: 3 } });
  });

  test("a closed channel drains its buffer, then receives nil, false; sending on it raises", async () => {
    assert.deepEqual(await call("closed"), { value: ["a", true, true, false, false, true] });
  });

  test("select with a timeout: time.after's channel wins over a channel nobody sends on", async () => {
    assert.deepEqual(await call("select_timeout"), { value: { timed_out: true, got_time: true } });
  });

  test("select with default never blocks; case_send completes when there is room", async () => {
    assert.deepEqual(await call("select_default"), { value: [true, true, true, 7, true] });
  });

  test("a ticker ticks until stopped", async () => {
    assert.deepEqual(await call("ticker", [3]), { value: 3 });
  });

  test("time.sleep in the main coroutine lets spawned coroutines run; Time:sub is a Duration", async () => {
    assert.deepEqual(await call("sleep"), { value: { order: ["spawned", "main"], at_least: true } });
  });

  test("Duration values: parse_duration, units, errors for bad and zero durations", async () => {
    assert.deepEqual(await call("durations"), { value: [1.5126388888888888, 90.75833333333334, 5445.5, 5445500, true, "INVALID", true, 'invalid duration "0ns": must be > 0'] });
  });

  test("a call whose coroutines all wait on each other fails with a deadlock error, not a hang", async () => {
    const result = await call("deadlock");
    assert.match(result.error?.message ?? "", /all coroutines are waiting and nothing can wake them \(deadlock\)/);
  });

  test("an unbuffered send waits until a receiver comes", async () => {
    assert.deepEqual(await call("unbuffered"), { value: ["before", "sent", "received 1"] });
  });

  test("outside a process: no pid, and process.inbox says why it cannot be used", async () => {
    assert.deepEqual(await call("no_process"), { value: [true, true] });
  });
});
