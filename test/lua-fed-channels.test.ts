/**
 * @module test/lua-fed-channels — an events subscription's channel and a future's response channel
 * are channels of the process model: a process selects over its inbox and a subscription, a call
 * selects over a future's answer and a timeout, and a process's subscription ends with the process.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { LogRecord } from "./support/logs.ts";
import { luaAppsStoppedPerTest } from "./support/lua-apps.ts";
import type { StartedSnippet } from "./support/registry.ts";
import { waitUntil } from "./support/wait.ts";
import type { CallableComponent } from "../runtime/handlers/handler.ts";
import type { RuntimeServices } from "../runtime/contracts/runtime-services.ts";

const start = luaAppsStoppedPerTest();

async function lineStarting(lines: LogRecord[], prefix: string): Promise<string> {
  await waitUntil(() => lines.some((line) => line.msg.startsWith(prefix)), `a log line starting "${prefix}"`, 20_000);
  return lines.find((line) => line.msg.startsWith(prefix))!.msg;
}

const call = async (snippet: StartedSnippet, id: string, ...args: unknown[]) => {
  const result = await snippet.supervisor.component<CallableComponent>(id).callable().call(args);
  if (result.error) throw result.error;
  return result.value;
};

const subscriberCount = (snippet: StartedSnippet) => ((snippet.supervisor.services as Required<RuntimeServices>).events as unknown as { subscriberCount: number }).subscriberCount;

describe("module objects as channels", () => {
  test("a process selects over its inbox and an events subscription, and its subscription ends with it", async () => {
    const { snippet, lines } = await start(
      `
- name: processes
  kind: process.host
  lifecycle: { auto_start: true }
- name: listener
  kind: process.lua
  source: file://listener.lua
  method: main
  modules: [events]
- name: listen
  kind: process.service
  process: listener
  host: processes
  lifecycle: { auto_start: true, restart: { max_attempts: 0 } }
- name: poke
  kind: function.lua
  source: file://poke.lua
  method: main
  modules: [events]
`,
      {
        "listener.lua": `
local events = require("events")
local function main()
  process.registry.register("listener")
  local sub = events.subscribe("orders")
  local inbox, feed = process.inbox(), sub:channel()
  print("listening")
  local seen = {}
  while #seen < 2 do
    local r = channel.select({ inbox:case_receive(), feed:case_receive() })
    if r.channel == inbox then
      seen[#seen + 1] = "message:" .. r.value:topic()
    elseif r.channel == feed then
      seen[#seen + 1] = "event:" .. r.value.kind .. ":" .. r.value.data.id
    end
  end
  print("seen " .. table.concat(seen, ","))
  return 0
end
return { main = main }`,
        "poke.lua": `
local events = require("events")
return { main = function(what)
  if what == "event" then return events.send("orders", "order.paid", "/orders/7", { id = 7 }) end
  return process.send("listener", "hello", {})
end }`,
      },
    );
    await lineStarting(lines, "listening");
    assert.equal(subscriberCount(snippet), 1);
    await call(snippet, "app:poke", "event");
    await call(snippet, "app:poke", "message");
    const seen = await lineStarting(lines, "seen ");
    assert.deepEqual(seen.slice("seen ".length).split(",").sort(), ["event:order.paid:7", "message:hello"]);
    // The process returned without closing its subscription: it closes with the process.
    await waitUntil(() => subscriberCount(snippet) === 0, "the ended process's subscription to close", 20_000);
  });

  test("a call selects over a future's response channel and a timeout", async () => {
    const { snippet } = await start(
      `
- name: slow
  kind: function.lua
  source: file://slow.lua
  method: main
  modules: [time]
- name: caller
  kind: function.lua
  source: file://caller.lua
  method: main
  modules: [funcs, time]
`,
      {
        "slow.lua": `
local time = require("time")
return { main = function(ms, value)
  time.sleep(tostring(ms) .. "ms")
  return value
end }`,
        "caller.lua": `
local funcs = require("funcs")
local time = require("time")
return { main = function(ms, limit)
  local future = funcs.async("app:slow", ms, "done in " .. ms .. "ms")
  local response = future:response()
  local r = channel.select({ response:case_receive(), time.after(limit):case_receive() })
  if r.channel == response then
    local again, again_ok = response:receive()
    return { got = r.value:data(), ok = r.ok, closed_after = again == nil and again_ok == false }
  end
  future:cancel()
  return { timed_out = true }
end }`,
      },
    );
    assert.deepEqual(await call(snippet, "app:caller", 0, "30s"), { got: "done in 0ms", ok: true, closed_after: true });
    assert.deepEqual(await call(snippet, "app:caller", 30_000, "20ms"), { timed_out: true });
  });
});
