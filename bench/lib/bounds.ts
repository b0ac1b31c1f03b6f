/**
 * @module bench/lib/bounds — for each missed target, one paragraph on what bounds it, written from
 * the same run's figures: the cores the server and the load generator took, CPU time per request,
 * the disk's fsync rate, Little's law for latency at a fixed number of connections, and the
 * baselines that mark a floor (a bare server doing the same work).
 */
import { KEYS, type BenchResults, type Measurement, type MeasurementKey } from "./results.ts";
import type { Verdict } from "./targets.ts";

export interface BoundFacts {
  results: BenchResults;
  cores: number;
  /** fsync'd single-row SQLite commits per second, measured before and after the scenarios. */
  commitRate: { before: number; after: number };
  /** Connections each load run keeps busy. */
  connections: number;
}

type Explain = (facts: BoundFacts) => string | undefined;

/** Keyed by the start of a verdict's target text (targets.ts). */
const EXPLANATIONS: { target: string; explain: Explain }[] = [
  { target: "durable intake ÷ BullMQ intake", explain: durableThroughput },
  { target: "durable intake ÷ hono + array", explain: durableThroughput },
  { target: "durable intake p99", explain: (facts) => latencyBound(facts, KEYS.durableIntake, 8, "durable intake") },
  { target: "memory intake (:memory: db) ÷ hono + array", explain: memoryIntake },
  { target: "memory intake (file db, FULL) ÷ hono + one INSERT (FULL)", explain: memoryIntakeFileDb },
  { target: "memory intake (file db, FULL) p99", explain: (facts) => latencyBound(facts, KEYS.memoryIntakeFileDb, 20, "memory intake with the tasks table in a file") },
  { target: "GET /tasks p99", explain: listUnderLoad },
  { target: "drain ÷ BullMQ worker (concurrency 50)", explain: drain },
  { target: "Lua create_task ÷ TypeScript create_task", explain: luaIntake },
  { target: "start-up to ready", explain: startup },
  { target: "idle RSS", explain: idleMemory },
];

/**
 * One paragraph per missed verdict that the run has the figures to explain; misses sharing a
 * paragraph (two ratios of the same figure) are listed together under it.
 */
export function explainMisses(verdicts: readonly Verdict[], facts: BoundFacts): { target: string; paragraph: string }[] {
  const bounds: { target: string; paragraph: string }[] = [];
  for (const verdict of verdicts) {
    const paragraph = explainMiss(verdict, facts);
    if (!paragraph) continue;
    const same = bounds.find((bound) => bound.paragraph === paragraph);
    if (same) same.target = `${same.target}; ${verdict.target}`;
    else bounds.push({ target: verdict.target, paragraph });
  }
  return bounds;
}

/** The paragraph for a missed verdict, or undefined when the run lacks the figures to write one. */
export function explainMiss(verdict: Verdict, facts: BoundFacts): string | undefined {
  if (verdict.met !== false) return undefined;
  const entry = EXPLANATIONS.find((candidate) => verdict.target.startsWith(candidate.target));
  return entry?.explain(facts);
}

function durableThroughput(facts: BoundFacts): string | undefined {
  const { results } = facts;
  const durable = results.get(KEYS.durableIntake);
  const bullmq = results.get(KEYS.bullmqIntake);
  const normal = results.get(KEYS.sqliteNormal);
  const array = results.get(KEYS.honoArray);
  if (!durable?.throughput) return undefined;
  const disk = Math.round(Math.min(facts.commitRate.before, facts.commitRate.after));
  const parts: string[] = [
    `What bounds it: the event loop, not the cores. ${coresSentence(durable, facts.cores, "taskrt")} The event loop runs the HTTP work, the handlers and the statements, and waits out each COMMIT's fsync (synchronous FULL; the disk managed ${disk.toLocaleString("en-US")} fsync'd commits/s alone): time the CPU figure leaves out and the profile below charges to the statements.`,
  ];
  if (normal?.throughput && bullmq?.throughput) {
    const versusArray = array?.throughput ? `, ${ratio(normal, array)} hono + array` : "";
    parts.push(
      `hono + one INSERT (NORMAL), which runs one statement per request on the event loop and never fsyncs, reached ${rate(normal)} = ${ratio(normal, bullmq)} BullMQ's intake${versusArray}: a server whose SQLite statements run on its event loop stays near that line however its commits are shared, while BullMQ's intake writes nothing to disk in the request.`,
    );
  }
  const paused = results.get(KEYS.durableIntakePaused);
  if (paused?.throughput && bullmq?.throughput) {
    parts.push(`With the consumers paused taskrt reached ${rate(paused)} (${ratio(paused, bullmq)} BullMQ): the consumers' claims, UPDATEs and acks share that same loop.`);
  }
  const writer = results.get(KEYS.durableIntakeWriterThread);
  if (writer?.throughput && bullmq?.throughput) {
    parts.push(
      `With the write connection on a writer thread (\`writer: thread\`) the statements and the fsync waits leave the event loop, yet it reached ${rate(writer)}, ${ratio(writer, durable)} the event-loop writer (${ratio(writer, bullmq)} BullMQ, p99 ${ms(writer.p99Ms)}): every request and every delivery, ack and consumer UPDATE now crosses between the threads, and the writer thread runs all of the database's work alone. ${coresSentence(writer, facts.cores, "taskrt with the writer thread")}`,
    );
  }
  return parts.join(" ");
}

function memoryIntake(facts: BoundFacts): string | undefined {
  const memory = facts.results.get(KEYS.memoryIntake);
  const array = facts.results.get(KEYS.honoArray);
  if (!memory?.throughput || !array?.throughput) return undefined;
  const taskrtCost = cpuPerRequest(memory);
  const honoCost = cpuPerRequest(array);
  const costs =
    taskrtCost !== undefined && honoCost !== undefined
      ? ` Per request taskrt spent ${taskrtCost} µs of CPU and hono + array ${honoCost} µs: the difference is taskrt's layers (routing by entry, the call context, the handler's module calls, the INSERT into the :memory: tasks table and its group commit, the memory queue's admission); \`node --import tsx bench/request-layers.ts\` prices each layer.`
      : "";
  return `What bounds it: the event loop, which runs all of a request. ${coresSentence(memory, facts.cores, "taskrt")}${costs}`;
}

function memoryIntakeFileDb(facts: BoundFacts): string | undefined {
  const fileDb = facts.results.get(KEYS.memoryIntakeFileDb);
  const full = facts.results.get(KEYS.sqliteFull);
  if (!fileDb?.throughput || !full?.throughput) return undefined;
  const disk = Math.round(Math.min(facts.commitRate.before, facts.commitRate.after));
  return `What bounds it: the baseline is bound by the disk (one fsync per request: ${rate(full)} against the ${disk.toLocaleString("en-US")} fsync'd commits/s the disk managed alone), taskrt by its main thread: it shares each fsync among many requests, and ${coresSentence(fileDb, facts.cores, "taskrt").replace(/^./, (first) => first.toLowerCase())} The ratio therefore moves with the disk's speed on the day as much as with taskrt's.`;
}

function listUnderLoad(facts: BoundFacts): string | undefined {
  const list = facts.results.get(KEYS.listUnderLoad);
  if (!list?.throughput) return undefined;
  const parts = [latencyBound(facts, KEYS.listUnderLoad, 20, "GET /tasks")];
  const baseline = facts.results.get(KEYS.listUnderLoadBaseline);
  if (baseline?.throughput) {
    parts.push(
      `hono + better-sqlite3 answering the same page with the same SQL on the same database, under the same background writes, reached ${rate(baseline)}, p99 ${ms(baseline.p99Ms)} (taskrt ${ratio(list, baseline)}): the page itself (reading 100 rows and writing their JSON) is most of the cost.`,
    );
  }
  return parts.join(" ");
}

function drain(facts: BoundFacts): string | undefined {
  const taskrt = facts.results.get(KEYS.drain);
  const full = facts.results.get(KEYS.bullmqWorker);
  const normal = facts.results.get(KEYS.bullmqWorkerNormal);
  if (!taskrt?.throughput || !full?.throughput) return undefined;
  const disk = Math.round(Math.min(facts.commitRate.before, facts.commitRate.after));
  const versusNormal = normal?.throughput ? `; against the same worker writing with NORMAL (no fsync to wait for: ${rate(normal)}) taskrt is ${ratio(taskrt, normal)}` : "";
  return `What bounds it: the baseline waits for one fsync'd INSERT per task (${rate(full)}, with the disk managing ${disk.toLocaleString("en-US")} fsync'd commits/s alone), so the ratio rises and falls with the disk's speed on the day${versusNormal}. taskrt's drain runs the claims, the handler's UPDATEs and the acks on one event loop, sharing their commits.`;
}

function luaIntake(facts: BoundFacts): string | undefined {
  const lua = facts.results.get(KEYS.luaIntake);
  const typescript = facts.results.get(KEYS.luaIntakeTypescript);
  if (!lua?.throughput || !typescript?.throughput) return undefined;
  const call = facts.results.get(KEYS.luaModuleCall);
  const boundary = call?.p50Ms === undefined ? "" : ` (one module call served by the main thread: ${Math.round(call.p50Ms * 1000)} µs)`;
  return `What bounds it: a Lua request is handed between the event loop and a Lua worker thread for the request, for each module call the main thread serves${boundary} and for the answer, and each hand-over waits for the other thread's turn. ${coresSentence(lua, facts.cores, "taskrt with the Lua handler")} The divisor is the TypeScript handler in the same run, ${rate(typescript)}: it gains from every cut in the TypeScript path.`;
}

function startup(facts: BoundFacts): string | undefined {
  const taskrt = facts.results.get(KEYS.startup);
  const compiled = facts.results.get(KEYS.honoArrayCompiledStartup);
  if (taskrt?.startupMs === undefined || compiled?.startupMs === undefined) return undefined;
  return `What bounds it: a compiled hono + array server, plain node, was ready in ${Math.round(compiled.startupMs)} ms on this machine in this run: node's own start and module loading. taskrt starts ${Math.round(taskrt.startupMs - compiled.startupMs)} ms later; the notes give taskrt's own "ready in" (registry load, validation, the database, the migration, the server), the rest is loading its modules.`;
}

function idleMemory(facts: BoundFacts): string | undefined {
  const taskrt = facts.results.get(KEYS.startup);
  const compiled = facts.results.get(KEYS.honoArrayCompiledStartup);
  if (taskrt?.idleRssMb === undefined || compiled?.idleRssMb === undefined) return undefined;
  return `What bounds it: the compiled hono + array floor idles at ${Math.round(compiled.idleRssMb)} MB; taskrt holds ${Math.round(taskrt.idleRssMb - compiled.idleRssMb)} MB more: its modules, the registry, SQLite's connections and caches.`;
}

/**
 * Little's law: with N connections each waiting for its answer, the mean latency is N ÷ throughput;
 * a p99 under L needs at least that mean under L, i.e. a throughput above N ÷ L.
 */
function latencyBound(facts: BoundFacts, key: MeasurementKey, limitMs: number, what: string): string {
  const measured = facts.results.get(key);
  if (!measured?.throughput) return "";
  const meanMs = (facts.connections / measured.throughput.value) * 1000;
  const needed = Math.ceil((facts.connections / limitMs) * 1000);
  return `What bounds it: ${facts.connections} connections that each wait for their answer before sending again queue for ${meanMs.toFixed(1)} ms on average at ${rate(measured)} (Little's law: connections ÷ throughput; p50 ${ms(measured.p50Ms)}), so ${what} with a p99 ≤ ${limitMs} ms at ${facts.connections} connections needs more than ${needed.toLocaleString("en-US")} ${measured.throughput.unit} and a tail within the limit; ${coresSentence(measured, facts.cores, "taskrt").replace(/^./, (first) => first.toLowerCase())}`;
}

/** "taskrt used 1.08 of the 2 cores and wrk 0.61 (0.31 idle), 118 µs of CPU per request." */
function coresSentence(measurement: Measurement, cores: number, who: string): string {
  const cpu = measurement.cpu;
  if (!cpu || Number.isNaN(cpu.serverCores)) return `${who}'s CPU was not measured in this run.`;
  const idle = Math.max(0, cores - cpu.serverCores - cpu.loadGeneratorCores);
  const perRequest = cpuPerRequest(measurement);
  const cost = perRequest === undefined ? "" : `, ${perRequest} µs of CPU per ${measurement.throughput?.unit === "tasks/s" ? "task" : "request"}`;
  return `${who} used ${cpu.serverCores.toFixed(2)} of the ${cores} cores and ${cpu.loadGenerator} ${cpu.loadGeneratorCores.toFixed(2)} (${idle.toFixed(2)} idle)${cost}.`;
}

function cpuPerRequest(measurement: Measurement): number | undefined {
  if (!measurement.cpu || Number.isNaN(measurement.cpu.serverCores) || !measurement.throughput) return undefined;
  return Math.round((measurement.cpu.serverCores * 1e6) / measurement.throughput.value);
}

function rate(measurement: Measurement): string {
  return measurement.throughput ? `${Math.round(measurement.throughput.value).toLocaleString("en-US")} ${measurement.throughput.unit}` : "—";
}

function ratio(taskrt: Measurement, baseline: Measurement): string {
  return taskrt.throughput && baseline.throughput ? `${(taskrt.throughput.value / baseline.throughput.value).toFixed(2)}×` : "—";
}

function ms(value: number | undefined): string {
  return value === undefined ? "—" : `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
}
