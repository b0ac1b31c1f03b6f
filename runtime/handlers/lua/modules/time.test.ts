import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { callLua, createTestEngine, testContext } from "../test-support.ts";

const source = `local time = require("time")
return {
  sleep = function(duration)
    local before = os.clock()
    local result, err = time.sleep(duration)
    if err then return { message = err:message(), kind = err:kind() } end
    return "slept"
  end,
  now = function()
    local now = time.now()
    return { unix = now:unix(), milli = now:unix_milli(), type = math.type(now:unix()), text = tostring(now) }
  end,
  fixed = function()
    local t = time.unix(1700000000, 500000000)
    local later = t:add("1m30s")
    return { t:format_rfc3339(), t:year(), t:month(), t:day(), t:hour(), t:minute(), t:second(),
      later:sub(t):seconds() == 90 and later:sub(t):nanoseconds() == 90 * time.SECOND, later:after(t), t:before(later), t:equal(time.unix(1700000000, 500000000)) }
  end,
  constants = function() return { time.NANOSECOND, time.MILLISECOND, time.SECOND, time.MINUTE, time.HOUR } end,
  layouts = function()
    local t = time.unix(1700000000, 500000000) -- 2023-11-14 22:13:20.5 UTC, a Tuesday
    return { t:format("2006-01-02 15:04:05"), t:format(time.RFC3339), t:format("Mon Jan _2 3:04PM"),
      t:format("02/01/06 15:04:05.000"), t:format(time.RFC3339NANO), t:format(), t:format("Monday, January 2") }
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

describe("lua time module", () => {
  test("Time:format takes Go's reference layouts and the module's layout constants, in UTC", async () => {
    assert.deepEqual(await call("layouts"), {
      value: ["2023-11-14 22:13:20", "2023-11-14T22:13:20Z", "Tue Nov 14 10:13PM", "14/11/23 22:13:20.500", "2023-11-14T22:13:20.5Z", "2023-11-14T22:13:20Z", "Tuesday, November 14"],
    });
  });

  test("time.sleep takes a duration string, or a number of nanoseconds as Wippy does", async () => {
    assert.deepEqual(await call("sleep", ["5ms"]), { value: "slept" });
    assert.deepEqual(await call("sleep", [5_000_000]), { value: "slept" });
  });

  test("time.sleep with a bad duration returns nil, err of kind INVALID", async () => {
    assert.deepEqual(await call("sleep", ["soon"]), { value: { message: 'invalid duration "soon"', kind: "INVALID" } });
    assert.deepEqual(await call("sleep", [{}]), {
      value: { message: 'invalid duration: expected a string such as "100ms", a number of nanoseconds or a Duration, got table', kind: "INVALID" },
    });
  });

  test("time.now() returns a Time whose :unix() is the current Unix second, as an integer", async () => {
    const before = Math.floor(Date.now() / 1000);
    const { value } = await call("now");
    const now = value as { unix: number; milli: number; type: string; text: string };
    assert.ok(now.unix >= before && now.unix <= before + 1);
    assert.equal(now.type, "integer");
    assert.equal(Math.floor(now.milli / 1000), now.unix);
    assert.match(now.text, /^\d{4}-\d\d-\d\dT/);
  });

  test("Time methods: fields in UTC, add, sub in nanoseconds, comparisons", async () => {
    assert.deepEqual((await call("fixed")).value, ["2023-11-14T22:13:20Z", 2023, 11, 14, 22, 13, 20, true, true, true, true]);
  });

  test("duration constants count nanoseconds", async () => {
    assert.deepEqual((await call("constants")).value, [1, 1e6, 1e9, 6e10, 3.6e12]);
  });
});
