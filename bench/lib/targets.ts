/**
 * @module bench/lib/targets — the ratios of taskrt's figures to its baselines, and the targets of
 * issue 15 (start-up: issue 13) judged met or missed from one run's results.
 */
import type { ScenarioName } from "./options.ts";
import { KEYS, type BenchResults, type MeasurementKey } from "./results.ts";

export interface Ratio {
  label: string;
  /** taskrt's throughput over the baseline's; undefined when either was not measured. */
  value: number | undefined;
  /** The least the issue asks for, when it asks. */
  target: number | undefined;
  missing: string | undefined;
}

interface RatioDefinition {
  label: string;
  taskrt: MeasurementKey;
  baseline: MeasurementKey;
  target?: number;
}

const RATIOS: RatioDefinition[] = [
  { label: "durable intake ÷ BullMQ intake", taskrt: KEYS.durableIntake, baseline: KEYS.bullmqIntake, target: 1.0 },
  { label: "durable intake, writer thread ÷ BullMQ intake", taskrt: KEYS.durableIntakeWriterThread, baseline: KEYS.bullmqIntake },
  { label: "durable intake, writer thread ÷ main-thread writer", taskrt: KEYS.durableIntakeWriterThread, baseline: KEYS.durableIntake },
  { label: "durable intake ÷ hono + array", taskrt: KEYS.durableIntake, baseline: KEYS.honoArray, target: 0.55 },
  { label: "durable intake ÷ hono + one INSERT (FULL)", taskrt: KEYS.durableIntake, baseline: KEYS.sqliteFull },
  { label: "durable intake ÷ hono + one INSERT (NORMAL)", taskrt: KEYS.durableIntake, baseline: KEYS.sqliteNormal },
  { label: "durable intake, consumers paused ÷ BullMQ intake", taskrt: KEYS.durableIntakePaused, baseline: KEYS.bullmqIntake },
  { label: "durable intake, consumers paused ÷ hono + one INSERT (FULL)", taskrt: KEYS.durableIntakePaused, baseline: KEYS.sqliteFull },
  { label: "memory intake (:memory: db) ÷ hono + array", taskrt: KEYS.memoryIntake, baseline: KEYS.honoArray, target: 0.7 },
  { label: "memory intake (file db, FULL) ÷ hono + one INSERT (FULL)", taskrt: KEYS.memoryIntakeFileDb, baseline: KEYS.sqliteFull, target: 2 },
  { label: "memory intake (file db, FULL) ÷ hono + array", taskrt: KEYS.memoryIntakeFileDb, baseline: KEYS.honoArray },
  { label: "GET /tasks under intake ÷ hono + better-sqlite3 (same SQL and JSON)", taskrt: KEYS.listUnderLoad, baseline: KEYS.listUnderLoadBaseline },
  { label: "drain ÷ BullMQ worker (concurrency 50)", taskrt: KEYS.drain, baseline: KEYS.bullmqWorker, target: 3 },
  { label: "drain ÷ BullMQ worker (concurrency 50, results NORMAL)", taskrt: KEYS.drain, baseline: KEYS.bullmqWorkerNormal },
  { label: "Lua create_task ÷ TypeScript create_task (POST /tasks)", taskrt: KEYS.luaIntake, baseline: KEYS.luaIntakeTypescript, target: 0.6 },
];

export function computeRatios(results: BenchResults): Ratio[] {
  const ratios: Ratio[] = [];
  for (const definition of RATIOS) {
    const taskrt = results.get(definition.taskrt);
    const baseline = results.get(definition.baseline);
    const ran = taskrt || baseline || results.skipReason(definition.baseline) || results.skipReason(definition.taskrt);
    if (!ran) continue;
    const value = taskrt?.throughput && baseline?.throughput ? taskrt.throughput.value / baseline.throughput.value : undefined;
    const missing = value !== undefined ? undefined : (results.skipReason(definition.baseline) ?? results.skipReason(definition.taskrt) ?? "not measured (see failures)");
    ratios.push({ label: definition.label, value, target: definition.target, missing });
  }
  return ratios;
}

export interface Verdict {
  target: string;
  measured: string;
  /** undefined: could not be judged (a figure is missing). */
  met: boolean | undefined;
  /** By how much it is missed, or why it could not be judged. */
  detail: string;
  /** The taskrt scenario to profile when missed. */
  scenario: ScenarioName;
}

export function judgeTargets(results: BenchResults, ran: readonly ScenarioName[]): Verdict[] {
  const verdicts: Verdict[] = [];
  const ratios = computeRatios(results);
  const failed = (scenario: ScenarioName): string | undefined =>
    results.failures.some((failure) => failure.scenario === scenario) ? `scenario ${scenario} failed (see Failures)` : undefined;
  const ratioVerdict = (label: string, scenario: ScenarioName): void => {
    if (!ran.includes(scenario)) return;
    const target = RATIOS.find((definition) => definition.label === label)?.target ?? 0;
    const ratio = ratios.find((candidate) => candidate.label === label);
    if (!ratio || ratio.value === undefined) {
      verdicts.push({ target: `${label} ≥ ${target}×`, measured: "—", met: undefined, detail: failed(scenario) ?? ratio?.missing ?? "not measured", scenario });
      return;
    }
    const met = ratio.value >= target;
    verdicts.push({
      target: `${label} ≥ ${target}×`,
      measured: `${ratio.value.toFixed(2)}×`,
      met,
      detail: met ? "" : `${percent(1 - ratio.value / target)} short (needs ${(target / ratio.value).toFixed(2)}× more)`,
      scenario,
    });
  };
  const limitVerdict = (label: string, scenario: ScenarioName, value: number | undefined, limit: number, unit: string): void => {
    if (!ran.includes(scenario)) return;
    if (value === undefined || Number.isNaN(value)) {
      verdicts.push({ target: `${label} ≤ ${limit} ${unit}`, measured: "—", met: undefined, detail: failed(scenario) ?? "not measured", scenario });
      return;
    }
    const met = value <= limit;
    verdicts.push({
      target: `${label} ≤ ${limit} ${unit}`,
      measured: `${value.toFixed(unit === "ms" && value < 100 ? 2 : 0)} ${unit}`,
      met,
      detail: met ? "" : `over by ${(value - limit).toFixed(unit === "ms" && value < 100 ? 2 : 0)} ${unit} (${percent(value / limit - 1)})`,
      scenario,
    });
  };

  // Issue 15's targets.
  ratioVerdict("durable intake ÷ BullMQ intake", "intake-durable");
  ratioVerdict("durable intake ÷ hono + array", "intake-durable");
  limitVerdict("durable intake p99 at 50 connections", "intake-durable", results.get(KEYS.durableIntake)?.p99Ms, 8, "ms");
  ratioVerdict("memory intake (:memory: db) ÷ hono + array", "intake-memory");
  ratioVerdict("memory intake (file db, FULL) ÷ hono + one INSERT (FULL)", "intake-memory");
  limitVerdict("memory intake (file db, FULL) p99", "intake-memory", results.get(KEYS.memoryIntakeFileDb)?.p99Ms, 20, "ms");
  limitVerdict("GET /tasks p99 under intake", "list-under-load", results.get(KEYS.listUnderLoad)?.p99Ms, 20, "ms");
  ratioVerdict("drain ÷ BullMQ worker (concurrency 50)", "drain");
  // Issue 13's targets for the compiled package.
  limitVerdict("start-up to ready", "startup", results.get(KEYS.startup)?.startupMs, 300, "ms");
  limitVerdict("idle RSS", "startup", results.get(KEYS.startup)?.idleRssMb, 80, "MB");
  // Issue 12's targets for Lua on worker threads.
  limitVerdict("/healthz p99 while 8 Lua attacks run", "lua", results.get(KEYS.luaAttacksHealthz)?.p99Ms, 50, "ms");
  ratioVerdict("Lua create_task ÷ TypeScript create_task (POST /tasks)", "lua");
  return verdicts;
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(0)}%`;
}
