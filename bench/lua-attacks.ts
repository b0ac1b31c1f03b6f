/**
 * @module bench/lua-attacks — how the server answers while hostile Lua handlers run: two copies
 * each of the four attacks of issue 12 (a C pattern match that backtracks for ever, an endless
 * __gc finalizer, an endless coroutine.yield() loop, a plain tight loop) are kept running against
 * test/fixtures/lua/attacks, and /healthz is asked over and over meanwhile. Reports /healthz's
 * latency (p50, p99, max) and what the attacks got back.
 *
 * Run: `node --import tsx bench/lua-attacks.ts [--duration=20000] [--workers=2]`.
 * The server runs as a `taskrt run` child process.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const REGISTRY = "test/fixtures/lua/attacks/_index.yaml";
const ATTACKS = ["/attack/pattern", "/attack/finalizer", "/attack/yield", "/attack/loop"];
const COPIES = 2;

function option(argv: string[], name: string, fallback: number): number {
  const found = argv.find((arg) => arg.startsWith(`--${name}=`));
  return found ? Number(found.slice(name.length + 3)) : fallback;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function main(argv: string[]): Promise<void> {
  const durationMs = option(argv, "duration", 20_000);
  const workers = option(argv, "workers", 2);
  const directory = mkdtempSync(path.join(tmpdir(), "taskrt-bench-attacks-"));
  const child = spawn(process.execPath, [path.resolve("bin/taskrt.js"), "run", REGISTRY, "-o", `app:db:file=${path.join(directory, "attacks.db")}`], {
    env: { ...process.env, NO_COLOR: "1", TASKRT_LUA_WORKERS: String(workers) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = once(child, "exit");
  let stderr = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk;
      const found = /listening on (http:\/\/[^\s]+)/.exec(stderr)?.[1];
      if (found && /ready in \d+ms/.test(stderr)) resolve(found);
    });
    exited.then(() => reject(new Error(`taskrt run ${REGISTRY} exited before it was ready:\n${stderr}`)));
  });
  let deadline = performance.now() + durationMs;
  const outcomes = new Map<string, Map<number, number>>();
  const attack = async (route: string): Promise<void> => {
    while (performance.now() < deadline) {
      const response = await fetch(url + route);
      await response.text();
      const byStatus = outcomes.get(route) ?? new Map<number, number>();
      byStatus.set(response.status, (byStatus.get(response.status) ?? 0) + 1);
      outcomes.set(route, byStatus);
    }
  };
  let latencies: number[] = [];
  const probe = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const started = performance.now();
      const response = await fetch(`${url}/healthz`);
      await response.text();
      if (response.status !== 200) throw new Error(`/healthz answered ${response.status}`);
      latencies.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  let quiet: number[];
  try {
    // The same probe without attacks first: on a shared machine, the load is part of the figure.
    await probe();
    quiet = latencies.sort((a, b) => a - b);
    latencies = [];
    deadline = performance.now() + durationMs;
    await Promise.all([probe(), ...ATTACKS.flatMap((route) => Array.from({ length: COPIES }, () => attack(route)))]);
  } finally {
    child.kill("SIGTERM");
    await exited;
    rmSync(directory, { recursive: true, force: true });
  }
  const sorted = latencies.sort((a, b) => a - b);
  console.log(`${COPIES} copies each of ${ATTACKS.join(", ")} for ${durationMs / 1000} s, ${workers} Lua workers`);
  console.log(`/healthz, no attack: ${quiet.length} requests, p50 ${percentile(quiet, 50).toFixed(1)} ms, p99 ${percentile(quiet, 99).toFixed(1)} ms, max ${quiet[quiet.length - 1].toFixed(1)} ms`);
  console.log(`/healthz under attack: ${sorted.length} requests, p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms, max ${sorted[sorted.length - 1].toFixed(1)} ms`);
  for (const [route, byStatus] of outcomes) {
    console.log(`${route}: ${[...byStatus].map(([status, count]) => `${count} × ${status}`).join(", ")}`);
  }
}

await main(process.argv.slice(2));
