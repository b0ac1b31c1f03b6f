/**
 * @module bench/lib/lua-attacks — how the server answers while hostile Lua handlers run: two copies
 * each of the four attacks of issue 12 (a C pattern match that backtracks for ever, an endless
 * __gc finalizer, an endless coroutine.yield() loop, a plain tight loop) are kept running against
 * test/fixtures/lua/attacks, and /healthz is asked over and over meanwhile (after the same probe
 * with no attack, for reference: on a shared machine the load is part of the figure).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { REPO_ROOT } from "./settings.ts";

const REGISTRY = "test/fixtures/lua/attacks/_index.yaml";
export const ATTACKS = ["/attack/pattern", "/attack/finalizer", "/attack/yield", "/attack/loop"];
export const COPIES = 2;

export interface LatencyStats {
  requests: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface AttackReport {
  quiet: LatencyStats;
  underAttack: LatencyStats;
  /** Per attack route: how many responses of each status it got. */
  outcomes: Map<string, Map<number, number>>;
}

export interface AttackOptions {
  /** The taskrt CLI script, relative to the repository root (bin/taskrt.js, dist/bin/taskrt.js). */
  cli: string;
  durationMs: number;
  /** TASKRT_LUA_WORKERS for the server; its default when undefined. */
  workers?: number;
}

export async function measureLuaAttacks(options: AttackOptions): Promise<AttackReport> {
  const directory = mkdtempSync(path.join(tmpdir(), "taskrt-bench-attacks-"));
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  if (options.workers !== undefined) env.TASKRT_LUA_WORKERS = String(options.workers);
  const child = spawn(process.execPath, [path.resolve(REPO_ROOT, options.cli), "run", REGISTRY, "-o", `app:db:file=${path.join(directory, "attacks.db")}`], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = once(child, "exit");
  let stderr = "";
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk;
        const found = /listening on (http:\/\/[^\s]+)/.exec(stderr)?.[1];
        if (found && /ready in \d+ms/.test(stderr)) resolve(found);
      });
      exited.then(() => reject(new Error(`taskrt run ${REGISTRY} exited before it was ready:\n${stderr.slice(-4000)}`)));
    });
    let deadline = 0;
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
    const probe = async (latencies: number[]): Promise<void> => {
      while (performance.now() < deadline) {
        const started = performance.now();
        const response = await fetch(`${url}/healthz`);
        await response.text();
        if (response.status !== 200) throw new Error(`/healthz answered ${response.status}`);
        latencies.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const quiet: number[] = [];
    deadline = performance.now() + options.durationMs;
    await probe(quiet);
    const underAttack: number[] = [];
    deadline = performance.now() + options.durationMs;
    await Promise.all([probe(underAttack), ...ATTACKS.flatMap((route) => Array.from({ length: COPIES }, () => attack(route)))]);
    return { quiet: stats(quiet), underAttack: stats(underAttack), outcomes };
  } finally {
    child.kill("SIGTERM");
    await exited;
    rmSync(directory, { recursive: true, force: true });
  }
}

function stats(latencies: number[]): LatencyStats {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
  return { requests: sorted.length, p50Ms: at(50), p99Ms: at(99), maxMs: sorted[sorted.length - 1] };
}

/** `/attack/loop: 3 × 500, …` for every attack route. */
export function describeOutcomes(outcomes: AttackReport["outcomes"]): string {
  return [...outcomes].map(([route, byStatus]) => `${route}: ${[...byStatus].map(([status, count]) => `${count} × ${status}`).join(", ")}`).join("; ");
}
