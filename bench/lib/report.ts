/** @module bench/lib/report — renders one run's results, ratios, verdicts and profiles as Markdown. */
import type { MachineFacts } from "./machine.ts";
import { SCENARIOS } from "./options.ts";
import type { BenchResults, Measurement } from "./results.ts";
import type { Ratio, Verdict } from "./targets.ts";

export interface ReportInput {
  /** Taken before the first scenario. */
  machine: MachineFacts;
  /** 1-minute load average after the last scenario. */
  loadAverageAfter: number;
  /** fsync'd single-row SQLite commits per second, before and after the scenarios. */
  commitRate: { before: number; after: number };
  quick: boolean;
  scenarios: readonly string[];
  registry: string;
  loadTool: string;
  loadSeconds: number;
  warmupSeconds: number;
  connections: number;
  redis: string;
  results: BenchResults;
  ratios: Ratio[];
  verdicts: Verdict[];
  /** What bounds each missed target, one paragraph each (bounds.ts). */
  bounds: { target: string; paragraph: string }[];
  /** Markdown per profiled scenario. */
  profiles: { scenario: string; target: string; markdown: string }[];
  /** bench/request-layers.ts's table, when intake-memory ran. */
  requestLayers?: string;
}

export function renderReport(input: ReportInput): string {
  const { machine, results } = input;
  const lines: string[] = [];
  lines.push("# taskrt benchmark results", "");
  lines.push(`Written by \`npm run bench\` on ${machine.date}; run it again rather than editing this file. \`bench/README.md\` says what each scenario measures.`, "");
  if (input.quick) lines.push("> **Quick smoke run** (short loads, fewer tasks): checks that the bench works; its figures are not results.", "");
  if (input.scenarios.length < SCENARIOS.length) lines.push(`> Partial run: ${input.scenarios.join(", ")}.`, "");

  lines.push("| run | |", "|---|---|");
  lines.push(`| cores (nproc) | ${machine.cores} |`);
  lines.push(`| CPU | ${machine.cpu} |`);
  lines.push(`| memory | ${machine.memoryGiB} GiB |`);
  lines.push(`| Node | ${machine.node} (${machine.kernel}) |`);
  lines.push(`| load average (1 min) | ${machine.loadAverage.toFixed(2)} before the run (other work on the machine), ${input.loadAverageAfter.toFixed(2)} after it (including the bench's own) |`);
  lines.push(`| disk | ${Math.round(input.commitRate.before).toLocaleString("en-US")} fsync'd SQLite commits/s before the run, ${Math.round(input.commitRate.after).toLocaleString("en-US")} after (WAL, FULL, one row each, no HTTP): the ceiling of any one-commit-per-request design |`);
  lines.push(`| taskrt | \`taskrt run ${input.registry}\`, bench variant (see bench/README.md) |`);
  lines.push(`| load | ${input.loadTool}, separate process, loopback, ${input.connections} connections, ${input.loadSeconds} s per run after ${input.warmupSeconds} s of warm-up |`);
  lines.push(`| BullMQ baselines | ${input.redis} |`, "");

  if (input.verdicts.length > 0) {
    lines.push("## Targets (issue 15; start-up: issue 13)", "", "| target | measured | verdict |", "|---|---:|---|");
    for (const verdict of input.verdicts) {
      const word = verdict.met === undefined ? `not judged: ${verdict.detail}` : verdict.met ? "**met**" : `**missed**: ${verdict.detail}`;
      lines.push(`| ${verdict.target} | ${verdict.measured} | ${word} |`);
    }
    lines.push("");
  }

  lines.push("## Results", "", "| scenario | system | throughput | p50 | p99 | peak RSS | notes |", "|---|---|---:|---:|---:|---:|---|");
  for (const measurement of results.measurements) lines.push(measurementRow(measurement, machine.cores));
  for (const skip of results.skips) lines.push(`| ${skip.scenario} | ${skip.system} | skipped | | | | ${escape(skip.reason)} |`);
  lines.push("");

  if (input.ratios.length > 0) {
    lines.push("## taskrt ÷ baselines (throughput)", "", "| ratio | value | target | verdict |", "|---|---:|---:|---|");
    for (const ratio of input.ratios) {
      const value = ratio.value === undefined ? "—" : `${ratio.value.toFixed(2)}×`;
      const target = ratio.target === undefined ? "" : `≥ ${ratio.target}×`;
      const verdict = ratio.target === undefined || ratio.value === undefined ? (ratio.missing ? escape(ratio.missing) : "") : ratio.value >= ratio.target ? "met" : "missed";
      lines.push(`| ${ratio.label} | ${value} | ${target} | ${verdict} |`);
    }
    lines.push("");
  }

  if (input.bounds.length > 0) {
    lines.push("## What bounds each miss", "", "Written from this run's figures (cores taken, CPU per request, the disk's fsync rate, the baselines).", "");
    for (const bound of input.bounds) lines.push(`- **${bound.target}.** ${bound.paragraph}`);
    lines.push("");
  }
  if (input.requestLayers) lines.push("## POST /tasks layer by layer (memory queue, :memory: tasks table)", "", input.requestLayers, "");

  if (results.failures.length > 0) {
    lines.push("## Failures", "");
    for (const failure of results.failures) lines.push(`- ${failure.scenario}:`, "", "```", failure.message, "```", "");
  }

  if (input.profiles.length > 0) {
    lines.push("## Profiles of the missed targets", "");
    lines.push(
      "Each scenario that missed a target was run once more with taskrt under `node --cpu-prof` (figures from that run are not used); main thread only. The first table charges all time to the app handler it ran under (intake vs consumers); the others are self time, native frames (a better-sqlite3 statement, with its fsync) charged to their caller.",
      "",
    );
    for (const profile of input.profiles) lines.push(`### ${profile.scenario} (${profile.target})`, "", profile.markdown, "");
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

function measurementRow(measurement: Measurement, cores: number): string {
  let throughput = "";
  if (measurement.throughput) throughput = `${Math.round(measurement.throughput.value).toLocaleString("en-US")} ${measurement.throughput.unit}`;
  else if (measurement.startupMs !== undefined) throughput = `ready in ${Math.round(measurement.startupMs)} ms`;
  let memory = measurement.peakRssMb === undefined ? "" : `${megabytes(measurement.peakRssMb)}`;
  if (measurement.idleRssMb !== undefined) memory = `idle ${megabytes(measurement.idleRssMb)} (peak ${memory})`;
  const notes = measurement.cpu ? [...measurement.notes, cpuNote(measurement.cpu, cores)] : measurement.notes;
  return `| ${measurement.scenario} | ${measurement.system} | ${throughput} | ${milliseconds(measurement.p50Ms)} | ${milliseconds(measurement.p99Ms)} | ${memory} | ${escape(notes.join("; "))} |`;
}

/** "wrk took 0.62 of the 2 cores, the server 1.31": on a small machine the generator's share is not the server's. */
export function cpuNote(cpu: NonNullable<Measurement["cpu"]>, cores: number, server = "the server"): string {
  const serverShare = Number.isNaN(cpu.serverCores) ? `${server} not readable (no /proc)` : `${server} ${cpu.serverCores.toFixed(2)}`;
  return `${cpu.loadGenerator} took ${cpu.loadGeneratorCores.toFixed(2)} of the ${cores} cores, ${serverShare}`;
}

function milliseconds(value: number | undefined): string {
  if (value === undefined) return "—";
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
}

function megabytes(value: number): string {
  return Number.isNaN(value) ? "n/a" : `${Math.round(value)} MB`;
}

function escape(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}
