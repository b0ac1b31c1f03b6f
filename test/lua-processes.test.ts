/**
 * @module test/lua-processes — Wippy's process model on the Lua workers, through real registries:
 * process.service roots that spawn, message, monitor, link and name other process.lua entries.
 * Processes report through `print` (log lines naming their entry); tests wait for those lines.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { LogRecord } from "./support/logs.ts";
import { luaAppsStoppedPerTest } from "./support/lua-apps.ts";
import { waitUntil } from "./support/wait.ts";

const HOST = `
- name: processes
  kind: process.host
  lifecycle: { auto_start: true }
`;

function processEntry(name: string, modules: string[] = []): string {
  return `
- name: ${name}
  kind: process.lua
  source: file://${name}.lua
  method: main
  modules: [${modules.join(", ")}]
`;
}

function service(name: string, process: string, input: unknown[] = [], lifecycle = "auto_start: true"): string {
  return `
- name: ${name}
  kind: process.service
  process: ${process}
  host: processes
  input: ${JSON.stringify(input)}
  lifecycle: { ${lifecycle} }
`;
}

const start = luaAppsStoppedPerTest();

function printed(lines: LogRecord[], prefix: string): LogRecord | undefined {
  return lines.find((line) => line.msg.startsWith(prefix));
}

async function waitForLine(lines: LogRecord[], prefix: string, timeoutMs = 20_000): Promise<string> {
  await waitUntil(() => printed(lines, prefix) !== undefined, `a log line starting "${prefix}"`, timeoutMs);
  return printed(lines, prefix)!.msg;
}

describe("Lua processes", () => {
  test("ping-pong: two actors exchange messages by pid; the pinger sees the ponger's EXIT with its result", async () => {
    const { lines } = await start(HOST + processEntry("pinger") + processEntry("ponger") + service("ping", "pinger", [5]), {
      "pinger.lua": `
local function main(rounds)
  local pong = process.spawn_monitored("app:ponger", "app:processes")
  local inbox, events = process.inbox(), process.events()
  local got = 0
  for i = 1, rounds do
    process.send(pong, "ping", i)
    local msg = inbox:receive()
    if msg:topic() ~= "pong" or msg:from() ~= pong or msg:payload():data() ~= i * 10 then
      error("unexpected " .. msg:topic() .. " " .. tostring(msg:payload():data()))
    end
    got = got + 1
  end
  process.send(pong, "stop")
  local event = events:receive()
  print("pinger done", got, event.kind == process.event.EXIT, event.from == pong, event.result.value)
end
return { main = main }`,
      "ponger.lua": `
local function main()
  local served = 0
  for msg in function() return process.inbox():receive() end do
    if msg:topic() == "stop" then return "served " .. served end
    served = served + 1
    process.send(msg:from(), "pong", msg:payload():data() * 10)
  end
end
return { main = main }`,
    });
    assert.equal(await waitForLine(lines, "pinger done"), "pinger done\t5\ttrue\ttrue\tserved 5");
  });

  test("a worker pool of coroutines fed through a channel inside one process", async () => {
    const { lines } = await start(HOST + processEntry("pool") + service("pool-service", "pool", [50, 4]), {
      "pool.lua": `
local function main(jobs, workers)
  local work, done = channel.new(8), channel.new()
  for w = 1, workers do
    coroutine.spawn(function()
      for job in function() local v, ok = work:receive(); if ok then return v end end do done:send(job * 2) end
      done:send(nil)
    end)
  end
  coroutine.spawn(function() for i = 1, jobs do work:send(i) end work:close() end)
  local total, finished = 0, 0
  while finished < workers do
    local v = done:receive()
    if v == nil then finished = finished + 1 else total = total + v end
  end
  print("pool total", total)
end
return { main = main }`,
    });
    assert.equal(await waitForLine(lines, "pool total"), "pool total\t2550");
  });

  test("a supervised child that crashes is restarted by its process.service as a fresh process, and its failure is logged", async () => {
    const { lines } = await start(
      HOST + processEntry("flaky", ["time"]) + processEntry("tally") + service("tally-service", "tally") + service("flaky-service", "flaky", [], "auto_start: true, restart: { initial_delay: 10ms, jitter: 0 }"),
      {
        "flaky.lua": `
local time = require("time")
local runs = 0 -- module-level state: each process starts with its own
local function main()
  runs = runs + 1
  while not process.registry.lookup("tally") do time.sleep("5ms") end
  process.send("tally", "run", process.pid())
  local count = process.inbox():receive():payload():data()
  print("flaky run", count, runs, process.pid() ~= nil)
  if count < 3 then error("crash " .. count) end
  process.events():receive()
end
return { main = main }`,
        "tally.lua": `
local function main()
  process.registry.register("tally")
  local count = 0
  while true do
    local r = channel.select { process.inbox():case_receive(), process.events():case_receive() }
    if r.channel ~= process.inbox() then return count end
    count = count + 1
    process.send(r.value:payload():data(), "count", count)
  end
end
return { main = main }`,
      },
    );
    assert.equal(await waitForLine(lines, "flaky run\t3"), "flaky run\t3\t1\ttrue");
    const restarts = lines.filter((line) => line.msg === "process failed, restarting");
    assert.deepEqual(restarts.map((line) => [line.attempt, String(line.error).replace(/^.*flaky\.lua:\d+: /, "")]), [[1, "crash 1"], [2, "crash 2"]]);
  });

  test("a registered name: others send to it and look it up; a second owner is refused; it is released when its process exits", async () => {
    const { lines } = await start(HOST + processEntry("registrar") + processEntry("named") + service("names", "registrar"), {
      "registrar.lua": `
local function main()
  local child = process.spawn_monitored("app:named", "app:processes", process.pid())
  local ready = process.inbox():receive()
  local pid = process.registry.lookup("counter")
  local taken, taken_err = process.registry.register("counter")
  process.send("counter", "add", 2)
  process.send("counter", "add", 3)
  process.send("counter", "report", process.pid())
  local total = process.inbox():receive():payload():data()
  local missing, err = process.registry.lookup("nobody")
  local sent, send_err = process.send("nobody", "x")
  process.send("counter", "stop")
  local exit = process.events():receive()
  local after = process.registry.lookup("counter")
  print("names", ready:payload():data(), pid == child, taken == nil, taken_err:kind(), total, exit.result.value,
    missing == nil, err:kind(), sent == nil, send_err:kind(), after == nil)
end
return { main = main }`,
      "named.lua": `
local function main(parent)
  local ok = process.registry.register("counter")
  local again = process.registry.register("counter")
  process.send(parent, "ready", ok == true and again == true)
  local total = 0
  while true do
    local msg = process.inbox():receive()
    if msg:topic() == "add" then total = total + msg:payload():data()
    elseif msg:topic() == "report" then process.send(msg:payload():data(), "total", total)
    elseif msg:topic() == "stop" then return total end
  end
end
return { main = main }`,
    });
    assert.equal(await waitForLine(lines, "names"), "names\ttrue\ttrue\ttrue\tALREADY_EXISTS\t5\t5\ttrue\tNOT_FOUND\ttrue\tNOT_FOUND\ttrue");
  });

  test("links: a trapping parent gets LINK_DOWN when a linked child fails; cancel reaches a child as a CANCEL event with its reason", async () => {
    const { lines } = await start(HOST + processEntry("parent") + processEntry("child") + service("family", "parent"), {
      "parent.lua": `
local function main()
  process.set_options({ trap_links = true })
  local events = process.events()
  local failing = process.spawn_linked("app:child", "app:processes", "fail")
  local down = events:receive()
  local patient = process.spawn_monitored("app:child", "app:processes", "wait")
  process.cancel(patient, "enough")
  local exit = events:receive()
  print("family", process.get_options().trap_links, down.kind, down.from == failing, down.result.error:match("child failed on purpose") ~= nil,
    exit.kind, exit.from == patient, exit.result.value)
end
return { main = main }`,
      "child.lua": `
local function main(mode)
  if mode == "fail" then error("child failed on purpose") end
  local event = process.events():receive()
  return event.kind .. ": " .. event.reason
end
return { main = main }`,
    });
    assert.equal(await waitForLine(lines, "family"), "family\ttrue\tpid.link.down\ttrue\ttrue\tpid.exit\ttrue\tpid.cancel: enough");
  });

  test("without trap_links a linked failure ends the parent too, and its service restarts it", async () => {
    const { lines } = await start(HOST + processEntry("doomed") + processEntry("child") + service("doomed-service", "doomed", [], "auto_start: true, restart: { initial_delay: 1h }"), {
      "doomed.lua": `
local function main()
  process.spawn_linked("app:child", "app:processes", "fail")
  process.inbox():receive()
  print("doomed survived")
end
return { main = main }`,
      "child.lua": `
local function main(mode)
  if mode == "fail" then error("child failed on purpose") end
end
return { main = main }`,
    });
    await waitUntil(() => lines.some((line) => line.msg === "process failed, restarting"), "the parent's failure", 20_000);
    const failure = lines.find((line) => line.msg === "process failed, restarting")!;
    assert.match(String(failure.error), /linked process \{app:processes\|w\d+\.\d+\} failed: .*child failed on purpose/);
    assert.equal(printed(lines, "doomed survived"), undefined);
  });

  test("a runaway process is stopped at max_run_time; its monitor gets EXIT with the error and its peers keep working", async () => {
    const { lines } = await start(
      HOST +
        processEntry("watcher") +
        `
- name: spinner
  kind: process.lua
  source: file://spinner.lua
  method: main
  max_run_time: 200ms
` +
        service("watch", "watcher"),
      {
        "watcher.lua": `
local function main()
  local spinner = process.spawn_monitored("app:spinner", "app:processes")
  local exit = process.events():receive()
  print("watcher", exit.from == spinner, exit.result.error)
end
return { main = main }`,
        "spinner.lua": `
local function main()
  while true do end
end
return { main = main }`,
      },
    );
    const line = await waitForLine(lines, "watcher");
    assert.match(line, /^watcher\ttrue\t.*lua handler app:spinner exceeded 200ms without yielding/);
  });

  test("bad input gets a clear error: unknown entry or host, a reserved topic, a bad destination", async () => {
    const { lines } = await start(HOST + processEntry("careless") + processEntry("child") + service("careless-service", "careless"), {
      "careless.lua": `
local function main()
  local _, no_entry = process.spawn("app:nothing", "app:processes")
  local _, no_host = process.spawn("app:child", "app:elsewhere")
  local _, reserved = process.send(process.pid(), "@inbox", 1)
  local _, bad_destination = process.send(42, "x")
  local _, channel_arg = process.spawn("app:child", "app:processes", 1, channel.new())
  local ok = pcall(channel.new, -1)
  print("careless", no_entry:kind(), no_entry:message())
  print("careless", no_host:kind(), no_host:message())
  print("careless", reserved:kind(), reserved:message())
  print("careless", bad_destination:kind(), bad_destination:message())
  print("careless", channel_arg:kind(), channel_arg:message())
  print("careless done", ok)
end
return { main = main }`,
      "child.lua": "return { main = function() end }",
    });
    await waitForLine(lines, "careless done");
    assert.deepEqual(
      lines.filter((line) => line.msg.startsWith("careless\t")).map((line) => line.msg.split("\t").slice(1)),
      [
        ["NOT_FOUND", "process.spawn: no process.lua entry 'app:nothing' (process entries: app:careless, app:child)"],
        ["INVALID", "process.spawn: 'app:elsewhere' is not a process.host (hosts: app:processes)"],
        ["INVALID", "process.send: topic '@inbox' is reserved (topics cannot start with @)"],
        ["INVALID", "process.send: destination must be a pid or a registered name (a string), got number"],
        ["INVALID", "process.spawn: argument #4 is a channel, and channels cannot cross to another process (send messages instead)"],
      ],
    );
    assert.equal(printed(lines, "careless done")!.msg, "careless done\tfalse");
  });

  test("processes of one entry keep their own module-level locals and globals", async () => {
    const { lines } = await start(HOST + processEntry("twins") + processEntry("twin") + service("twins-service", "twins"), {
      "twins.lua": `
local function main()
  local a = process.spawn("app:twin", "app:processes", process.pid(), "a")
  local b = process.spawn("app:twin", "app:processes", process.pid(), "b")
  local seen = {}
  for _ = 1, 4 do
    local msg = process.inbox():receive()
    table.insert(seen, msg:payload():data())
  end
  table.sort(seen)
  process.send(a, "stop")
  process.send(b, "stop")
  print("twins", table.concat(seen, " "), name == nil)
end
return { main = main }`,
      "twin.lua": `
print("twin file runs") -- the top level runs for each process, natives included
local calls = 0
local function main(parent, label)
  name = label
  calls = calls + 1
  process.send(parent, "seen", name .. calls)
  local time_to_swap = process.inbox() -- both twins are running now; each still sees its own
  process.send(parent, "seen", name .. calls .. "!")
  time_to_swap:receive()
end
return { main = main }`,
    });
    assert.equal(await waitForLine(lines, "twins"), "twins\ta1 a1! b1 b1!\ttrue");
    // Once when the entry started, once per process.
    assert.equal(lines.filter((line) => line.msg === "twin file runs").length, 3);
  });
});

