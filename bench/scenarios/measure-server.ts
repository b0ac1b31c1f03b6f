/**
 * @module bench/scenarios/measure-server — the measurement every load scenario repeats: start a
 * server fresh, wait for its port, warm it up, load it, read its peak RSS, stop it.
 */
import type { LoadRequest, LoadResult } from "../lib/load-tool.ts";
import { readCpuSeconds } from "../lib/process-cpu.ts";
import { RunningProcess, freePort, waitForHttp, type ProcessSpec } from "../lib/processes.ts";
import type { Measurement, MeasurementKey } from "../lib/results.ts";
import { CONNECTIONS } from "../lib/settings.ts";
import type { ScenarioContext } from "./context.ts";

export interface ServerLoad {
  method: "GET" | "POST";
  path: string;
  body?: string;
}

export interface ServerMeasurementPlan {
  /** The process to start on a given free port. */
  launch: (port: number) => ProcessSpec;
  load: ServerLoad;
  /** Runs once the port answers, before the warm-up (seeding data). */
  beforeLoad?: (baseUrl: string) => Promise<void>;
  /** Runs alongside the measured load (background work); the run waits for both. */
  during?: (baseUrl: string) => Promise<void>;
}

export interface ServerRun {
  load: LoadResult;
  peakRssMb: number;
  readyMs: number;
  /** CPU seconds the server used during the measured run (NaN where /proc is unavailable), and that run's wall seconds. */
  serverCpuSeconds: number;
  measuredSeconds: number;
}

/** Starts the planned server fresh, loads it (warm-up, then the measured run), and stops it. */
export async function measureServer(context: ScenarioContext, plan: ServerMeasurementPlan): Promise<ServerRun> {
  const { load, beforeLoad, during } = plan;
  const port = await freePort();
  const server = new RunningProcess(plan.launch(port));
  try {
    const baseUrl = `http://127.0.0.1:${port}`;
    const readyMs = await waitForHttp(server, `${baseUrl}/tasks?limit=1`);
    if (beforeLoad) await beforeLoad(baseUrl);
    const request: LoadRequest = { url: baseUrl + load.path, method: load.method, body: load.body, connections: CONNECTIONS, seconds: context.durations.warmupSeconds };
    await context.tool.run(request);
    const cpuBefore = readCpuSeconds(server.pid);
    const startedAt = performance.now();
    const [result] = await Promise.all([context.tool.run({ ...request, seconds: context.durations.loadSeconds }), during?.(baseUrl)]);
    const measuredSeconds = (performance.now() - startedAt) / 1000;
    const serverCpuSeconds = readCpuSeconds(server.pid) - cpuBefore;
    if (server.exited) throw server.failure("exited during the load");
    const peakRssMb = server.memory().peakRssMb;
    return { load: result, peakRssMb, readyMs, serverCpuSeconds, measuredSeconds };
  } finally {
    const code = await server.stop();
    if (code !== 0 && code !== null) context.log(`  (${server.label} exited with ${code})`);
  }
}

/** A Measurement from a load run, noting any error responses (they count in the throughput). */
export function loadMeasurement(key: MeasurementKey, scenario: string, system: string, run: ServerRun, extraNotes: string[] = []): Measurement {
  const notes = [...extraNotes];
  if (run.load.non2xx > 0) notes.push(`${run.load.non2xx} of ${run.load.requests} responses not 2xx`);
  if (run.load.socketErrors > 0) notes.push(`${run.load.socketErrors} socket errors`);
  return {
    key,
    scenario,
    system,
    throughput: { value: run.load.rps, unit: "req/s" },
    p50Ms: run.load.p50Ms,
    p99Ms: run.load.p99Ms,
    peakRssMb: run.peakRssMb,
    notes,
  };
}
