/**
 * @module bench/lib/load-tool — drives wrk (where installed) or autocannon as a separate process
 * against one URL and reads back throughput and latency percentiles.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { LoadToolName } from "./options.ts";
import { readCpuSeconds } from "./process-cpu.ts";
import { REPO_ROOT } from "./settings.ts";

export interface LoadRequest {
  url: string;
  method: "GET" | "POST";
  /** JSON sent with content-type application/json. */
  body?: string;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  tool: LoadToolName;
  requests: number;
  /** Responses per second over the run, whatever their status. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses outside 2xx/3xx. */
  non2xx: number;
  /** Connect, read, write errors and timeouts. */
  socketErrors: number;
  /** CPU seconds the load generator itself used (sampled from /proc every 100 ms; NaN where unavailable). */
  toolCpuSeconds: number;
}

/** What the load generator's own report says. */
export type LoadReport = Omit<LoadResult, "toolCpuSeconds">;

export interface LoadTool {
  name: LoadToolName;
  version: string;
  run(request: LoadRequest): Promise<LoadResult>;
}

const AUTOCANNON_CLI = path.join(REPO_ROOT, "node_modules", "autocannon", "autocannon.js");

/** wrk where installed (or as forced), else autocannon; throws naming how to get one. */
export function chooseLoadTool(forced: LoadToolName | undefined, scriptDir: string): LoadTool {
  const wrkVersion = forced === "autocannon" ? undefined : wrkInstalled();
  if (wrkVersion) return { name: "wrk", version: wrkVersion, run: (request) => runWrk(request, scriptDir) };
  if (forced === "wrk") throw new Error("--tool wrk: wrk is not installed (apt-get install -y wrk)");
  if (!fs.existsSync(AUTOCANNON_CLI)) {
    throw new Error("no load generator: install wrk (apt-get install -y wrk) or run npm install to get autocannon");
  }
  const version = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "node_modules", "autocannon", "package.json"), "utf8")) as { version: string }).version;
  return { name: "autocannon", version: `autocannon ${version}`, run: runAutocannon };
}

function wrkInstalled(): string | undefined {
  try {
    // `wrk -v` prints its version and exits 1.
    execFileSync("wrk", ["-v"], { stdio: "pipe" });
  } catch (error) {
    const output = String((error as { stdout?: Buffer }).stdout ?? "") + String((error as { stderr?: Buffer }).stderr ?? "");
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    // "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer" → "wrk debian/4.1.0-3+b2 [epoll]"
    return output.split("\n")[0]?.split(" Copyright")[0].trim() || "wrk";
  }
  return "wrk";
}

async function runWrk(request: LoadRequest, scriptDir: string): Promise<LoadResult> {
  const args = ["-t1", `-c${request.connections}`, `-d${request.seconds}s`, "--latency", "--timeout", "10s"];
  if (request.method !== "GET" || request.body !== undefined) args.push("-s", wrkScript(request, scriptDir));
  args.push(request.url);
  const { output, cpuSeconds } = await capture("wrk", args);
  return { ...parseWrkOutput(output), toolCpuSeconds: cpuSeconds };
}

/** A Lua script setting the method, body and content type; one file per distinct request. */
function wrkScript(request: LoadRequest, scriptDir: string): string {
  const lines = [`wrk.method = "${request.method}"`];
  if (request.body !== undefined) {
    lines.push(`wrk.body = [==[${request.body}]==]`, `wrk.headers["Content-Type"] = "application/json"`);
  }
  const text = `${lines.join("\n")}\n`;
  const file = path.join(scriptDir, `wrk-${createHash("sha1").update(text).digest("hex").slice(0, 10)}.lua`);
  fs.mkdirSync(scriptDir, { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

/** Reads wrk's report (run with --latency). Throws quoting the output when a figure is missing. */
export function parseWrkOutput(output: string): LoadReport {
  const requests = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)\b/m.exec(output);
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  const p50 = /^\s*50%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(output);
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(output);
  if (!requests || !rps || !p50 || !p99) throw new Error(`cannot read wrk's report:\n${output}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    tool: "wrk",
    requests: Number(requests[1]),
    rps: Number(rps[1]),
    p50Ms: toMilliseconds(Number(p50[1]), p50[2]),
    p99Ms: toMilliseconds(Number(p99[1]), p99[2]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: socket ? socket.slice(1).reduce((total, count) => total + Number(count), 0) : 0,
  };
}

function toMilliseconds(value: number, unit: string): number {
  switch (unit) {
    case "us":
      return value / 1000;
    case "ms":
      return value;
    case "s":
      return value * 1000;
    case "m":
      return value * 60_000;
    default:
      throw new Error(`unknown wrk time unit '${unit}'`);
  }
}

async function runAutocannon(request: LoadRequest): Promise<LoadResult> {
  const args = [AUTOCANNON_CLI, "-c", String(request.connections), "-d", String(request.seconds), "-m", request.method, "-j", "-n"];
  if (request.body !== undefined) args.push("-H", "content-type=application/json", "-b", request.body);
  args.push(request.url);
  const { output, cpuSeconds } = await capture(process.execPath, args);
  return { ...parseAutocannonJson(output), toolCpuSeconds: cpuSeconds };
}

/** Reads autocannon's `--json` report. */
export function parseAutocannonJson(output: string): LoadReport {
  const line = output.trim().split("\n").reverse().find((candidate) => candidate.startsWith("{"));
  if (!line) throw new Error(`cannot read autocannon's report:\n${output}`);
  const report = JSON.parse(line) as {
    duration: number;
    requests: { total: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
    timeouts: number;
  };
  return {
    tool: "autocannon",
    requests: report.requests.total,
    rps: report.requests.total / report.duration,
    p50Ms: report.latency.p50,
    p99Ms: report.latency.p99,
    non2xx: report.non2xx,
    socketErrors: report.errors + report.timeouts,
  };
}

/** How often a running load generator's CPU time is read: what it used after the last reading is not counted. */
const CPU_SAMPLE_MS = 100;

/**
 * Runs a command to completion and resolves with its stdout and the CPU seconds it used (its last
 * reading before it exited); rejects with its stderr on failure.
 */
function capture(command: string, args: string[]): Promise<{ output: string; cpuSeconds: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let cpuSeconds = Number.NaN;
    const sampler = setInterval(() => {
      const reading = readCpuSeconds(child.pid ?? -1);
      if (Number.isFinite(reading)) cpuSeconds = reading;
    }, CPU_SAMPLE_MS);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", (error) => {
      clearInterval(sampler);
      reject(error);
    });
    child.on("exit", (code) => {
      clearInterval(sampler);
      if (code === 0) resolve({ output: stdout, cpuSeconds });
      else reject(new Error(`${path.basename(command)} ${args.filter((arg) => !arg.startsWith("{")).join(" ")} exited with ${code}:\n${stderr || stdout}`));
    });
  });
}
