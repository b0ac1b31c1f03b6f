/**
 * @module bench/scenarios/startup — scenario 5: from spawning the process until its port answers
 * an HTTP request, and its resident memory after sitting idle. Each spawn gets a fresh database
 * (so the migration runs, as on a first start); one untimed spawn first warms the disk cache and
 * the handlers' compile cache. The median of the timed spawns is reported, beside two floors: hono
 * + an array under tsx, and the same server compiled to JavaScript first (no loader in either, as
 * taskrt's compiled CLI). The row of the package itself gives `npm pack`'s size and file count.
 */
import { execFileSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { RunningProcess, freePort, waitForHttp, type ProcessSpec } from "../lib/processes.ts";
import { KEYS, type Measurement, type MeasurementKey } from "../lib/results.ts";
import { freshDatabaseFile, type ScenarioContext } from "./context.ts";
import { REPO_ROOT } from "../lib/settings.ts";
import { baselineProcess, compiledBaselineProcess, taskrtProcess } from "./servers.ts";

const SCENARIO = "5. start-up and idle memory";

interface Spawned {
  readyMs: number;
  idleRssMb: number;
  peakRssMb: number;
  /** What the process said about its own start, if anything. */
  selfReport: string | undefined;
}

export async function runStartup(context: ScenarioContext): Promise<void> {
  context.log(`${SCENARIO}: taskrt`);
  const taskrt = await timeSpawns(context, (port, index) =>
    taskrtProcess({ registry: context.registry, label: "taskrt (start-up)", port, dbFile: freshDatabaseFile(context, `startup-${index}`), queue: "durable", consumers: "running", cpuProfileDir: context.cpuProfileDir }),
  );
  const measured = startupMeasurement(KEYS.startup, "taskrt run app/_index.yaml (compiled; durable, consumers running)", taskrt);
  context.results.measurements.push(measured);
  if (context.cpuProfileDir) return;

  context.log(`${SCENARIO}: baseline hono + array`);
  const hono = await timeSpawns(context, (port) => baselineProcess("hono-array", "hono + array (start-up)", port));
  const floor = startupMeasurement(KEYS.honoArrayStartup, "reference: hono + array under tsx (the floor)", hono);
  context.results.measurements.push(floor);
  // Same run, same machine: the ratios say more than the milliseconds on a loaded 2-core box.
  measured.notes.push(`${(measured.startupMs! / floor.startupMs!).toFixed(2)}× the floor's start-up, ${(measured.idleRssMb! / floor.idleRssMb!).toFixed(2)}× its idle RSS`);

  context.log(`${SCENARIO}: baseline hono + array, compiled`);
  const compiled = await timeSpawns(context, (port) => compiledBaselineProcess("hono-array", "hono + array compiled (start-up)", port));
  const compiledFloor = startupMeasurement(KEYS.honoArrayCompiledStartup, "reference: hono + array compiled to JS, plain node (the fair floor)", compiled);
  context.results.measurements.push(compiledFloor);
  measured.notes.push(`${(measured.startupMs! / compiledFloor.startupMs!).toFixed(2)}× the compiled floor's start-up, ${(measured.idleRssMb! / compiledFloor.idleRssMb!).toFixed(2)}× its idle RSS`);
  context.results.measurements.push(packageMeasurement());
}

/** What `npm pack` would ship (dist is already built: the pack's own prepare step is skipped). */
function packageMeasurement(): Measurement {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const [pack] = JSON.parse(execFileSync(npm, ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })) as {
    size: number;
    unpackedSize: number;
    entryCount: number;
  }[];
  return {
    key: KEYS.packageSize,
    scenario: SCENARIO,
    system: "npm pack (the installed package)",
    notes: [`${pack!.entryCount} files, ${(pack!.size / 1024).toFixed(0)} kB packed, ${(pack!.unpackedSize / 1024).toFixed(0)} kB unpacked (issue 13 found 403 files before the files list)`],
  };
}

async function timeSpawns(context: ScenarioContext, launch: (port: number, index: number) => ProcessSpec): Promise<Spawned[]> {
  const spawns = context.cpuProfileDir ? 1 : context.durations.startupSpawns + 1;
  const timed: Spawned[] = [];
  for (let index = 0; index < spawns; index++) {
    const port = await freePort();
    const child = new RunningProcess(launch(port, index));
    try {
      const readyMs = await waitForHttp(child, `http://127.0.0.1:${port}/tasks?limit=1`);
      await sleep(context.durations.idleMs);
      const memory = child.memory();
      const selfReport = /ready in (\d+)ms/.exec(child.output())?.[1];
      // The first spawn only warms caches, unless it is the only one (a profiling run).
      if (index > 0 || spawns === 1) timed.push({ readyMs, idleRssMb: memory.rssMb, peakRssMb: memory.peakRssMb, selfReport });
    } finally {
      await child.stop();
    }
  }
  return timed;
}

function startupMeasurement(key: MeasurementKey, system: string, spawns: Spawned[]): Measurement {
  const ready = median(spawns.map((spawn) => spawn.readyMs));
  const notes = [`${spawns.length} timed spawn${spawns.length === 1 ? "" : "s"}: ${spawns.map((spawn) => Math.round(spawn.readyMs)).join(", ")} ms`];
  const selfReports = spawns.map((spawn) => spawn.selfReport).filter((report) => report !== undefined);
  if (selfReports.length > 0) notes.push(`it printed "ready in ${selfReports.join(", ")}ms"`);
  return {
    key,
    scenario: SCENARIO,
    system,
    startupMs: ready,
    idleRssMb: median(spawns.map((spawn) => spawn.idleRssMb)),
    peakRssMb: median(spawns.map((spawn) => spawn.peakRssMb)),
    notes,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
