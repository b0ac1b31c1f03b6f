/**
 * @module bench/lua-processes — what a Lua process costs: the time to spawn N processes (and to
 * have all N running and waiting on their inbox), and the idle memory each one holds, beside the
 * same for N coroutines of one call (coroutine.spawn), measured in the same run on the same state.
 *
 * Memory is the Lua heap of the state the processes share (collectgarbage("count") after a full
 * collection) divided by N, and the whole process's RSS growth divided by N (worker threads
 * included: their JavaScript side, the mailboxes and the main thread's records).
 *
 * Run: `node --import tsx bench/lua-processes.ts [--processes=10000]`.
 */
import { parseArgs } from "node:util";
import { loadavg } from "node:os";
import { captureLogger } from "../test/support/logs.ts";
import { startSnippet } from "../test/support/registry.ts";
import { waitUntil } from "../test/support/wait.ts";

const { values } = parseArgs({ options: { processes: { type: "string", default: "10000" } } });
const count = Number(values.processes);

const ACTOR = `
local time = require("time")

local function idle(parent)
  process.send(parent, "up")
  process.inbox():receive()
end

local function measure(n)
  collectgarbage("collect")
  local before = collectgarbage("count")
  local started = time.now()
  local gate, up = channel.new(), channel.new(n)
  for i = 1, n do coroutine.spawn(function() up:send(i); gate:receive() end) end
  for _ = 1, n do up:receive() end
  local coroutines_ms = time.now():sub(started):milliseconds()
  collectgarbage("collect")
  local coroutine_bytes = (collectgarbage("count") - before) * 1024 / n
  gate:close()
  time.sleep("1ms")

  collectgarbage("collect")
  before = collectgarbage("count")
  started = time.now()
  local pids = {}
  for i = 1, n do pids[i] = process.spawn("app:actor", "app:processes", "idle", process.pid()) end
  local spawn_ms = time.now():sub(started):milliseconds()
  local inbox = process.inbox()
  for _ = 1, n do inbox:receive() end
  local running_ms = time.now():sub(started):milliseconds()
  collectgarbage("collect")
  local process_bytes = (collectgarbage("count") - before) * 1024 / n
  print(string.format("measured %d %.1f %.1f %.1f %.0f %.0f", n, spawn_ms, running_ms, coroutines_ms, process_bytes, coroutine_bytes))
  process.events():receive() -- the bench reads RSS now, then stops everything (CANCEL)
end

local function main(role, ...)
  if role == "idle" then return idle(...) end
  return measure(...)
end

return { main = main }
`;

const { logger, lines } = captureLogger();
const rssBefore = process.memoryUsage().rss;
const snippet = await startSnippet(
  `
- name: processes
  kind: process.host
  lifecycle: { auto_start: true }
- name: actor
  kind: process.lua
  source: file://actor.lua
  method: main
  modules: [time]
- name: bench
  kind: process.service
  process: actor
  host: processes
  input: ["measure", ${count}]
  lifecycle: { auto_start: true }
`,
  { files: { "app/actor.lua": ACTOR }, logger },
);
const rssStarted = process.memoryUsage().rss;
try {
  await waitUntil(() => lines.some((line) => line.msg.startsWith("measured ")), "the measurement", 120_000);
  const rssAll = process.memoryUsage().rss;
  const [, n, spawnMs, runningMs, coroutinesMs, processBytes, coroutineBytes] = lines.find((line) => line.msg.startsWith("measured "))!.msg.split(" ").map(Number);
  const load = loadavg().map((value) => value.toFixed(2)).join(" ");
  console.log(`load average: ${load}`);
  console.log(`spawn ${n} processes: ${spawnMs.toFixed(1)} ms (${((spawnMs * 1000) / n).toFixed(2)} µs each); all ${n} running and waiting on their inbox after ${runningMs.toFixed(1)} ms`);
  console.log(`baseline, ${n} coroutines (coroutine.spawn) running and waiting on a channel: ${coroutinesMs.toFixed(1)} ms; ratio processes/coroutines ${(runningMs / coroutinesMs).toFixed(1)}×`);
  console.log(`idle memory per process: ${processBytes} B of Lua heap (coroutine baseline ${coroutineBytes} B); RSS growth ${Math.round((rssAll - rssStarted) / n)} B per process (start-up RSS ${Math.round((rssStarted - rssBefore) / 1048576)} MiB)`);
} finally {
  // Idle processes ignore CANCEL, so each is ended after the spawned processes' grace period.
  const stopping = performance.now();
  try {
    await snippet.stop();
    console.log(`stopping the service and its ${count} idle processes (they ignore CANCEL): ${(performance.now() - stopping).toFixed(0)} ms`);
  } catch (error) {
    // Known limit: thousands of processes that ignore CANCEL outlast the service's stop_timeout.
    console.log(`stopping the service and its ${count} idle processes failed after ${(performance.now() - stopping).toFixed(0)} ms: ${(error as Error).message}`);
  }
}
