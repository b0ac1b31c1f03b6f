/**
 * @module bench/run — `npm run bench`: runs the scenarios against taskrt and its baselines, judges
 * the targets of issue 15 (start-up: issue 13), profiles the misses, and writes the results as Markdown.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { REDIS_HOST, REDIS_PORT } from "./baselines/redis-connection.ts";
import { summarizeCpuProfile, renderProfileSummary } from "./lib/cpu-profile.ts";
import { chooseLoadTool, type LoadTool } from "./lib/load-tool.ts";
import { measureCommitRate } from "./lib/disk-probe.ts";
import { describeMachine } from "./lib/machine.ts";
import { USAGE, parseBenchOptions, type BenchOptions, type ScenarioName } from "./lib/options.ts";
import { redisUnavailable } from "./lib/redis-probe.ts";
import { explainMisses } from "./lib/bounds.ts";
import { renderReport } from "./lib/report.ts";
import { BenchResults } from "./lib/results.ts";
import { CONNECTIONS, FULL_DURATIONS, QUICK_DURATIONS } from "./lib/settings.ts";
import { computeRatios, judgeTargets } from "./lib/targets.ts";
import { bullmqUnloadable } from "./scenarios/bullmq-queues.ts";
import type { ScenarioContext } from "./scenarios/context.ts";
import { runDrain } from "./scenarios/drain.ts";
import { runDurableIntake, runMemoryIntake } from "./scenarios/intake.ts";
import { runListUnderLoad } from "./scenarios/list-under-load.ts";
import { requestLayersSection } from "./request-layers.ts";
import { runLua } from "./scenarios/lua.ts";
import { SCALE_OUT, SCALE_OUT_USAGE, applyScaleOutSelection, runScaleOut, takeScaleOutOption } from "./scenarios/scale-out.ts";
import { runStartup } from "./scenarios/startup.ts";
import { POSTGRES_QUEUE, POSTGRES_QUEUE_USAGE, runPostgresQueue, takePostgresQueueOption } from "./scenarios/postgres-queue.ts";

const RUNNERS: Record<ScenarioName, (context: ScenarioContext) => Promise<void>> = {
  "intake-durable": runDurableIntake,
  "intake-memory": runMemoryIntake,
  drain: runDrain,
  "list-under-load": runListUnderLoad,
  startup: runStartup,
  lua: runLua,
};
const NEEDS_BULLMQ: readonly ScenarioName[] = ["intake-durable", "drain"];

async function main(argv: string[]): Promise<number> {
  // scale-out (PostgreSQL and RabbitMQ) and postgres-queue (PostgreSQL, graphile-worker, pg-boss)
  // are optional: each runs only when --only names it.
  const postgresQueue = takePostgresQueueOption(argv);
  const scaleOut = takeScaleOutOption(postgresQueue.argv);
  let options: BenchOptions;
  try {
    options = applyScaleOutSelection(parseBenchOptions(scaleOut.argv), postgresQueue.alone ? { ...scaleOut, alone: true } : scaleOut);
  } catch (error) {
    console.error(`bench: ${(error as Error).message}\n\n${USAGE}${SCALE_OUT_USAGE}${POSTGRES_QUEUE_USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE + SCALE_OUT_USAGE + POSTGRES_QUEUE_USAGE);
    return 0;
  }

  const scenarioNames: string[] = [...options.scenarios, ...(scaleOut.requested ? [SCALE_OUT] : []), ...(postgresQueue.requested ? [POSTGRES_QUEUE] : [])];
  const machine = describeMachine();
  const started = performance.now();
  const log = (line: string): void => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}`);
  fs.mkdirSync(options.tmpDir, { recursive: true });
  const tool = chooseLoadTool(options.tool, options.tmpDir);
  const durations = options.quick ? QUICK_DURATIONS : FULL_DURATIONS;

  let bullmqUnavailable: string | undefined;
  if (options.scenarios.some((scenario) => NEEDS_BULLMQ.includes(scenario))) {
    bullmqUnavailable = (await redisUnavailable(REDIS_HOST, REDIS_PORT)) ?? (await bullmqUnloadable());
    if (bullmqUnavailable) log(`BullMQ baselines skipped: ${bullmqUnavailable}`);
  }
  log(`load generator: ${tool.version}; scenarios: ${scenarioNames.join(", ")}${options.quick ? " (quick)" : ""}`);

  const commitRateBefore = measureCommitRate(options.tmpDir);
  log(`disk: ${Math.round(commitRateBefore)} fsync'd SQLite commits/s`);
  const results = new BenchResults();
  const context: ScenarioContext = { durations, registry: options.registry, tool, tmpDir: options.tmpDir, results, scenarios: options.scenarios, bullmqUnavailable, cpuProfileDir: undefined, log };
  for (const scenario of options.scenarios) {
    try {
      await RUNNERS[scenario](context);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      results.failures.push({ scenario, message });
      log(`${scenario} FAILED: ${message}`);
    }
  }

  const scaleOutSection = scaleOut.requested ? await runScaleOut(context) : "";
  const postgresQueueSection = postgresQueue.requested ? await runPostgresQueue(context) : "";

  let requestLayers: string | undefined;
  if (options.scenarios.includes("intake-memory")) {
    log("POST /tasks layer by layer (bench/request-layers.ts)");
    requestLayers = await requestLayersSection(options.quick);
  }

  const commitRateAfter = measureCommitRate(options.tmpDir);
  const verdicts = judgeTargets(results, options.scenarios);
  const boundFacts = { results, cores: machine.cores, commitRate: { before: commitRateBefore, after: commitRateAfter }, connections: CONNECTIONS };
  const bounds = explainMisses(verdicts, boundFacts);
  const profiles = options.profileMisses ? await profileMisses(context, tool, verdicts.filter((verdict) => verdict.met === false)) : [];

  const report = renderReport({
    machine,
    loadAverageAfter: os.loadavg()[0],
    commitRate: { before: commitRateBefore, after: commitRateAfter },
    quick: options.quick,
    scenarios: scenarioNames,
    registry: options.registry,
    loadTool: tool.version,
    loadSeconds: durations.loadSeconds,
    warmupSeconds: durations.warmupSeconds,
    connections: CONNECTIONS,
    redis: !options.scenarios.some((scenario) => NEEDS_BULLMQ.includes(scenario))
      ? "not part of these scenarios"
      : bullmqUnavailable
        ? `skipped: ${bullmqUnavailable}`
        : `BullMQ on Redis at ${REDIS_HOST}:${REDIS_PORT}`,
    results,
    ratios: computeRatios(results),
    verdicts,
    bounds,
    profiles,
    requestLayers,
  }) + (scaleOutSection ? `\n${scaleOutSection}` : "") + (postgresQueueSection ? `\n${postgresQueueSection}` : "");
  const out = results.failures.length > 0 ? options.outOnFailure : options.out;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, report);
  console.log(`\n${report}`);
  log(`wrote ${path.relative(process.cwd(), out)}${out !== options.out ? ` (a scenario failed: ${path.relative(process.cwd(), options.out)} left as it was)` : ""}`);
  return results.failures.length > 0 ? 1 : 0;
}

/** Re-runs each scenario with a missed target, taskrt under --cpu-prof, and summarises the profile. */
async function profileMisses(
  context: ScenarioContext,
  tool: LoadTool,
  missed: { scenario: ScenarioName; target: string }[],
): Promise<{ scenario: string; target: string; markdown: string }[]> {
  const profiles: { scenario: string; target: string; markdown: string }[] = [];
  const byScenario = new Map<ScenarioName, string[]>();
  for (const verdict of missed) byScenario.set(verdict.scenario, [...(byScenario.get(verdict.scenario) ?? []), verdict.target]);
  for (const [scenario, targets] of byScenario) {
    const cpuProfileDir = path.join(context.tmpDir, "profiles", scenario);
    fs.rmSync(cpuProfileDir, { recursive: true, force: true });
    fs.mkdirSync(cpuProfileDir, { recursive: true });
    context.log(`profiling ${scenario} (missed: ${targets.join("; ")})`);
    try {
      await RUNNERS[scenario]({ ...context, tool, results: new BenchResults(), cpuProfileDir });
      // CPU.<date>.<time>.<pid>.<thread>.<sequence>.cpuprofile: thread 0 is the main thread (tsx's
      // loader runs in a worker thread that writes a profile of its own). A scenario with several
      // taskrt variants writes each into a subfolder: the newest main-thread profile of each.
      const folders = [cpuProfileDir, ...fs.readdirSync(cpuProfileDir, { withFileTypes: true }).filter((item) => item.isDirectory()).map((item) => path.join(cpuProfileDir, item.name))];
      const summaries: string[] = [];
      for (const folder of folders) {
        const newest = fs
          .readdirSync(folder)
          .filter((name) => /\.\d+\.0\.\d+\.cpuprofile$/.test(name))
          .map((name) => path.join(folder, name))
          .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
        if (!newest) continue;
        const heading = folder === cpuProfileDir ? "" : `#### ${path.basename(folder)}\n\n`;
        summaries.push(heading + renderProfileSummary(summarizeCpuProfile(newest, 12)));
      }
      if (summaries.length === 0) throw new Error(`no .cpuprofile written in ${cpuProfileDir} (did taskrt exit cleanly?)`);
      profiles.push({ scenario, target: targets.join("; "), markdown: summaries.join("\n") });
    } catch (error) {
      profiles.push({ scenario, target: targets.join("; "), markdown: `Profiling failed: ${error instanceof Error ? error.message : String(error)}` });
    }
  }
  return profiles;
}

process.exitCode = await main(process.argv.slice(2));
