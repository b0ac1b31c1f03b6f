/**
 * @module bench/lib/load-tool — drives wrk (where installed) or autocannon as a separate process
 * against one URL and reads back throughput, latency percentiles, and the CPU the generator itself
 * used (on a two-core machine, what it takes is not the server's).
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { LoadToolName } from "./options.ts";
import { REPO_ROOT } from "./settings.ts";

export interface LoadRequest {
  url: string;
  method: "GET" | "POST";
  /** JSON sent with content-type application/json. */
  body?: string;
  connections: number;
  seconds: number;
}

/** What the load generator's report says. */
export interface LoadFigures {
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
}

/** CPU a load generator process used over its whole run (its own threads, from the kernel's accounting). */
export interface LoadCpu {
  userSeconds: number;
  systemSeconds: number;
  /** From spawn to exit. */
  wallSeconds: number;
}

export interface LoadResult extends LoadFigures {
  cpu: LoadCpu;
}

export interface LoadTool {
  name: LoadToolName;
  version: string;
  run(request: LoadRequest): Promise<LoadResult>;
  /**
   * User + system seconds of every run of this tool that has ended so far. Read before and after a
   * measured run, the difference covers every generator that ran in between (a background load too).
   */
  cpuSecondsSoFar(): number;
}

const AUTOCANNON_CLI = path.join(REPO_ROOT, "node_modules", "autocannon", "autocannon.js");

/** wrk where installed (or as forced), else autocannon; throws naming how to get one. */
export function chooseLoadTool(forced: LoadToolName | undefined, scriptDir: string): LoadTool {
  const wrkVersion = forced === "autocannon" ? undefined : wrkInstalled();
  if (wrkVersion) return countingCpu("wrk", wrkVersion, (request) => runWrk(request, scriptDir));
  if (forced === "wrk") throw new Error("--tool wrk: wrk is not installed (apt-get install -y wrk)");
  if (!fs.existsSync(AUTOCANNON_CLI)) {
    throw new Error("no load generator: install wrk (apt-get install -y wrk) or run npm install to get autocannon");
  }
  const version = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "node_modules", "autocannon", "package.json"), "utf8")) as { version: string }).version;
  return countingCpu("autocannon", `autocannon ${version}`, runAutocannon);
}

function countingCpu(name: LoadToolName, version: string, runOnce: (request: LoadRequest) => Promise<LoadResult>): LoadTool {
  let cpuSeconds = 0;
  return {
    name,
    version,
    async run(request) {
      const result = await runOnce(request);
      cpuSeconds += result.cpu.userSeconds + result.cpu.systemSeconds;
      return result;
    },
    cpuSecondsSoFar: () => cpuSeconds,
  };
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
  const { stdout, cpu } = await captureWithCpu("wrk", args);
  return { ...parseWrkOutput(stdout), cpu };
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
export function parseWrkOutput(output: string): LoadFigures {
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
  const { stdout, cpu } = await captureWithCpu(process.execPath, args);
  return { ...parseAutocannonJson(stdout), cpu };
}

/** Reads autocannon's `--json` report. */
export function parseAutocannonJson(output: string): LoadFigures {
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

/**
 * Runs bash's `times` after the command: its second line is getrusage(RUSAGE_CHILDREN) of the
 * shell, i.e. exactly the CPU the command used, including its last moments (a process that exited
 * is gone from /proc before Node hears of it).
 */
const WITH_TIMES = '"$@"; status=$?; times >&2; exit $status';

/** Runs a command to completion and resolves with its stdout and CPU; rejects with its stderr on failure. */
function captureWithCpu(command: string, args: string[]): Promise<{ stdout: string; cpu: LoadCpu }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn("bash", ["-c", WITH_TIMES, "bash", command, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const wallSeconds = (performance.now() - started) / 1000;
      let times: { children: Omit<LoadCpu, "wallSeconds">; rest: string };
      try {
        times = parseShellTimes(stderr);
      } catch (error) {
        reject(error);
        return;
      }
      if (code === 0) resolve({ stdout, cpu: { ...times.children, wallSeconds } });
      else reject(new Error(`${path.basename(command)} ${args.filter((arg) => !arg.startsWith("{")).join(" ")} exited with ${code}:\n${times.rest || stdout}`));
    });
  });
}

const TIMES_LINE = /^(\d+)m(\d+[.,]\d+)s (\d+)m(\d+[.,]\d+)s$/;

/**
 * Splits bash's `times` report off the end of a command's stderr: its last line is the children's
 * user and system time ("0m1.234s 0m0.567s"), the line before it the shell's own.
 */
export function parseShellTimes(stderr: string): { children: { userSeconds: number; systemSeconds: number }; rest: string } {
  const lines = stderr.trimEnd().split("\n");
  const children = TIMES_LINE.exec(lines.at(-1) ?? "");
  if (lines.length < 2 || !children || !TIMES_LINE.test(lines.at(-2) ?? "")) throw new Error(`cannot read the load generator's CPU time from bash's times:\n${stderr}`);
  const seconds = (minutes: string, rest: string): number => Number(minutes) * 60 + Number(rest.replace(",", "."));
  return {
    children: { userSeconds: seconds(children[1], children[2]), systemSeconds: seconds(children[3], children[4]) },
    rest: lines.slice(0, -2).join("\n"),
  };
}
