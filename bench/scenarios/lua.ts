/**
 * @module bench/scenarios/lua — scenario 6, Lua handlers on their worker threads (issue 12):
 * POST /tasks on examples/mixed-languages with its Lua create_task and with the TypeScript twin,
 * alternating; /healthz's p99 while two copies each of the four Lua attacks run; and what one
 * module call across the worker boundary costs.
 */
import path from "node:path";
import { KEYS } from "../lib/results.ts";
import { REPO_ROOT, TASK_BODY } from "../lib/settings.ts";
import { describeOutcomes, measureLuaAttacks } from "../lib/lua-attacks.ts";
import { measureLuaBoundary } from "../lib/lua-boundary.ts";
import type { ProcessSpec } from "../lib/processes.ts";
import { freshDatabaseFile, type ScenarioContext } from "./context.ts";
import { loadMeasurement, measureServer, type ServerRun } from "./measure-server.ts";
import { TASKRT_CLI } from "./servers.ts";

const SCENARIO = "6. Lua handlers (worker threads)";
const REGISTRY = "examples/mixed-languages";

/** The mixed registry without its consumer (intake + publish only), its create_task in `language`. */
function mixedProcess(language: "lua" | "typescript", port: number, dbFile: string, cpuProfileDir: string | undefined): ProcessSpec {
  const overrides = [
    `app:gateway:addr=127.0.0.1:${port}`,
    `app:db:file=${dbFile}`,
    "app:task_consumer:lifecycle.auto_start=false",
    // Nothing consumes: the queue holds every request of the run instead of pushing back.
    "app:tasks_queue:driver_options.memory.max_length=50000000",
  ];
  if (language === "typescript") overrides.push("app:create_task:kind=function.ts", `app:create_task:source=file://${path.join(REPO_ROOT, REGISTRY, "create_task.ts")}`);
  const profile = cpuProfileDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`] : [];
  return { label: `mixed-languages (${language} create_task)`, nodeArgs: [...profile, TASKRT_CLI, "run", REGISTRY, ...overrides.flatMap((override) => ["-o", override])] };
}

export async function runLua(context: ScenarioContext): Promise<void> {
  const { results } = context;
  const measure = (language: "lua" | "typescript", round: number): Promise<ServerRun> => {
    context.log(`${SCENARIO}: POST /tasks, ${language} create_task${round > 0 ? " (again)" : ""}`);
    return measureServer(context, {
      launch: (port) => mixedProcess(language, port, freshDatabaseFile(context, `lua-${language}-${round}`), language === "lua" ? context.cpuProfileDir : undefined),
      load: { method: "POST", path: "/tasks", body: TASK_BODY },
    });
  };
  if (context.cpuProfileDir) {
    results.measurements.push(loadMeasurement(KEYS.luaIntake, SCENARIO, "POST /tasks, Lua create_task (memory queue)", await measure("lua", 0)));
    return;
  }

  // Alternating, twice each: on a shared machine a disturbance then falls on both languages.
  const runs = { typescript: [] as ServerRun[], lua: [] as ServerRun[] };
  const rounds = context.durations.loadSeconds >= 10 ? 2 : 1;
  for (let round = 0; round < rounds; round++) {
    for (const language of ["typescript", "lua"] as const) runs[language].push(await measure(language, round));
  }
  const best = (list: ServerRun[]) => list.reduce((a, b) => (b.load.rps > a.load.rps ? b : a));
  const each = (list: ServerRun[]) => `rounds: ${list.map((run) => Math.round(run.load.rps).toLocaleString("en-US")).join(", ")} req/s (the best is reported)`;
  results.measurements.push(loadMeasurement(KEYS.luaIntakeTypescript, SCENARIO, "POST /tasks, TypeScript create_task (memory queue, no consumer)", best(runs.typescript), [each(runs.typescript)]));
  results.measurements.push(loadMeasurement(KEYS.luaIntake, SCENARIO, "POST /tasks, the tutorial's Lua create_task (memory queue, no consumer)", best(runs.lua), [each(runs.lua)]));

  context.log(`${SCENARIO}: /healthz while 2 copies each of 4 Lua attacks run`);
  const attacks = await measureLuaAttacks({ cli: TASKRT_CLI, durationMs: context.durations.loadSeconds * 1000 });
  const quiet = attacks.quiet;
  results.measurements.push({
    key: KEYS.luaAttacksHealthz,
    scenario: SCENARIO,
    system: "GET /healthz every 10 ms while 8 hostile Lua calls run (test/fixtures/lua/attacks)",
    p50Ms: attacks.underAttack.p50Ms,
    p99Ms: attacks.underAttack.p99Ms,
    notes: [
      `${attacks.underAttack.requests} probes, max ${attacks.underAttack.maxMs.toFixed(1)} ms`,
      `without attacks: p50 ${quiet.p50Ms.toFixed(2)} ms, p99 ${quiet.p99Ms.toFixed(2)} ms`,
      describeOutcomes(attacks.outcomes),
    ],
  });

  context.log(`${SCENARIO}: one module call across the worker boundary`);
  const boundary = await measureLuaBoundary(context.durations.loadSeconds >= 10 ? 20_000 : 5_000);
  results.measurements.push({
    key: KEYS.luaModuleCall,
    scenario: SCENARIO,
    system: "one Lua module call served by the main thread (queue.publish in a loop, in-process)",
    p50Ms: boundary.remoteMicros / 1000,
    notes: [
      `${boundary.remoteMicros.toFixed(1)} µs per call (wall, one after another), ${boundary.remoteCpuMicros.toFixed(1)} µs of CPU across both threads`,
      `a module that runs in the worker (json.encode): ${boundary.localMicros.toFixed(2)} µs per call`,
    ],
  });
}
