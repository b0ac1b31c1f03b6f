/** @module bench/lib/results — what a run measured, skipped and failed, keyed so targets can find their figures. */

/** Every figure a comparison or target refers to. */
export const KEYS = {
  durableIntake: "taskrt.intake.durable",
  durableIntakePaused: "taskrt.intake.durable.paused",
  /** The same app with its write connection on a writer thread (`writer: thread`). */
  durableIntakeWriterThread: "taskrt.intake.durable.writer-thread",
  memoryIntake: "taskrt.intake.memory",
  memoryIntakeFileDb: "taskrt.intake.memory.file-db",
  drain: "taskrt.drain",
  listUnderLoad: "taskrt.list-under-load",
  listUnderLoadBaseline: "baseline.hono-sqlite.list-under-load",
  startup: "taskrt.startup",
  sqliteFull: "baseline.hono-sqlite.full",
  sqliteNormal: "baseline.hono-sqlite.normal",
  honoArray: "baseline.hono-array",
  bullmqIntake: "baseline.bullmq.intake",
  bullmqWorker: "baseline.bullmq.worker.full",
  bullmqWorkerNormal: "baseline.bullmq.worker.normal",
  honoArrayStartup: "baseline.hono-array.startup",
  luaIntake: "taskrt.lua.intake",
  luaIntakeTypescript: "taskrt.lua.intake.typescript",
  luaAttacksHealthz: "taskrt.lua.attacks.healthz",
  luaModuleCall: "taskrt.lua.module-call",
  honoArrayCompiledStartup: "baseline.hono-array.compiled.startup",
  packageSize: "taskrt.package",
} as const;
export type MeasurementKey = (typeof KEYS)[keyof typeof KEYS];

export interface Measurement {
  key: MeasurementKey;
  /** The scenario heading, e.g. "1. POST /tasks intake, durable queue". */
  scenario: string;
  /** Who was measured and how, e.g. "taskrt, consumers running". */
  system: string;
  throughput?: { value: number; unit: "req/s" | "tasks/s" };
  p50Ms?: number;
  p99Ms?: number;
  peakRssMb?: number;
  startupMs?: number;
  idleRssMb?: number;
  /** Cores used over a load run (CPU seconds ÷ wall seconds), so a row says what the load generator took of the machine. */
  cpu?: { loadGenerator: string; loadGeneratorCores: number; serverCores: number };
  notes: string[];
}

export interface Skip {
  key: MeasurementKey;
  scenario: string;
  system: string;
  reason: string;
}

export interface Failure {
  scenario: string;
  message: string;
}

export class BenchResults {
  readonly measurements: Measurement[] = [];
  readonly skips: Skip[] = [];
  readonly failures: Failure[] = [];

  get(key: MeasurementKey): Measurement | undefined {
    return this.measurements.find((measurement) => measurement.key === key);
  }

  /** Why a figure is missing: its skip reason, or undefined when it simply was not run. */
  skipReason(key: MeasurementKey): string | undefined {
    return this.skips.find((skip) => skip.key === key)?.reason;
  }
}
