/**
 * @module bench/lua-attacks — prints /healthz's latency while two copies each of issue 12's four
 * Lua attacks run (see bench/lib/lua-attacks.ts); `npm run bench -- --only lua` reports the same.
 *
 * Run: `node --import tsx bench/lua-attacks.ts [--duration=20000] [--workers=2]`.
 * The server runs as a `taskrt run` child process, from the sources.
 */
import { ATTACKS, COPIES, describeOutcomes, measureLuaAttacks, type LatencyStats } from "./lib/lua-attacks.ts";

function option(argv: string[], name: string, fallback: number): number {
  const found = argv.find((arg) => arg.startsWith(`--${name}=`));
  return found ? Number(found.slice(name.length + 3)) : fallback;
}

const line = (stats: LatencyStats) => `${stats.requests} requests, p50 ${stats.p50Ms.toFixed(1)} ms, p99 ${stats.p99Ms.toFixed(1)} ms, max ${stats.maxMs.toFixed(1)} ms`;

const argv = process.argv.slice(2);
const durationMs = option(argv, "duration", 20_000);
const workers = option(argv, "workers", 2);
const report = await measureLuaAttacks({ cli: "bin/taskrt.js", durationMs, workers });
console.log(`${COPIES} copies each of ${ATTACKS.join(", ")} for ${durationMs / 1000} s, ${workers} Lua workers`);
console.log(`/healthz, no attack: ${line(report.quiet)}`);
console.log(`/healthz under attack: ${line(report.underAttack)}`);
console.log(describeOutcomes(report.outcomes).replaceAll("; ", "\n"));
