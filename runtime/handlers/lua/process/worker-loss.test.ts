import { after, test } from "node:test";
import assert from "node:assert/strict";
import { testContext } from "../test-support.ts";
import { LuaWorkerPool } from "../workers/pool.ts";
import { workerOfPid } from "./messages.ts";

const MEMORY = 64 * 1024 * 1024;
const pool = new LuaWorkerPool(2);
after(() => pool.close());

function entry(entryId: string, code: string, maxRunMs: number) {
  const registered = pool.register({ entryId, code, fileName: `${entryId.slice(4)}.lua`, modules: [], method: "main", maxRunMs, memoryLimit: MEMORY }, testContext({ entryId }));
  pool.declareProcess(registered, ["app:processes"]);
  return registered;
}

test("a process the hook cannot stop costs its worker; a monitor on another worker gets EXIT saying the process was lost", async () => {
  const victim = entry(
    "app:victim",
    `return { main = function()
      process.inbox():receive()
      return string.find(string.rep("a", 250), ".-.-.-.-b") -- backtracks inside C, where no hook runs
    end }`,
    200,
  );
  const watcher = entry(
    "app:watcher",
    `return { main = function(victim)
      process.monitor(victim)
      process.send(victim, "go")
      local exit = process.events():receive()
      return { from = exit.from, error = exit.result.error }
    end }`,
    1000,
  );
  await pool.load(victim);
  await pool.load(watcher);
  const runaway = pool.startProcess(victim, "app:processes", []);
  const watching = pool.startProcess(watcher, "app:processes", [runaway.pid]);
  assert.notEqual(workerOfPid(runaway.pid), workerOfPid(watching.pid), "a service's process goes to the worker with the fewest processes");
  const seen = await watching.done;
  const value = seen.value as { from: string; error: string };
  assert.equal(value.from, runaway.pid);
  assert.match(value.error, /^process \{app:processes\|w\d+\.s\d+\} was lost: its Lua worker was replaced after a Lua process ran \d+ms without stopping$/);
  assert.match((await runaway.done).error?.message ?? "", /was lost: its Lua worker was replaced/);
});
