/**
 * @module test/bench-smoke — the bench's parsing and judging on fixed inputs, and one quick run of
 * its start-up scenario writing a well-formed results table (no figure is judged: timing varies).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { explainMiss, explainMisses } from "../bench/lib/bounds.ts";
import { summarizeCpuProfile } from "../bench/lib/cpu-profile.ts";
import { chooseLoadTool, parseAutocannonJson, parseShellTimes, parseWrkOutput, type LoadTool } from "../bench/lib/load-tool.ts";
import { describeMachine } from "../bench/lib/machine.ts";
import { parseBenchOptions, type LoadToolName } from "../bench/lib/options.ts";
import { parseProcStat, readProcessCpu } from "../bench/lib/process-cpu.ts";
import { renderReport, type ReportInput } from "../bench/lib/report.ts";
import { renderLayerTable, type LayerReport } from "../bench/request-layers.ts";
import { BenchResults, KEYS } from "../bench/lib/results.ts";
import { QUICK_DURATIONS, REPO_ROOT } from "../bench/lib/settings.ts";
import { computeRatios, judgeTargets } from "../bench/lib/targets.ts";
import { loadMeasurement, measureServer } from "../bench/scenarios/measure-server.ts";

/** A report's input for a quick run on 2 cores with nothing measured; tests set what they check. */
function reportInput(overrides: Partial<ReportInput>): ReportInput {
  return {
    machine: { ...describeMachine(), cores: 2 },
    loadAverageAfter: 1,
    commitRate: { before: 1000, after: 1000 },
    quick: true,
    scenarios: [],
    registry: "app/_index.yaml",
    loadTool: "wrk",
    loadSeconds: 2,
    warmupSeconds: 1,
    connections: 50,
    redis: "none",
    results: new BenchResults(),
    ratios: [],
    verdicts: [],
    bounds: [],
    profiles: [],
    ...overrides,
  };
}

const WRK_REPORT = `Running 10s test @ http://127.0.0.1:8080/tasks
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.95ms  402.61us  10.19ms   87.07%
    Req/Sec    17.05k   734.62    18.03k    79.00%
  Latency Distribution
     50%  870.00us
     75%    3.07ms
     90%    3.36ms
     99%    1.20s
  169597 requests in 10.00s, 31.90MB read
  Socket errors: connect 0, read 2, write 1, timeout 4
  Non-2xx or 3xx responses: 12
Requests/sec:  16956.12
Transfer/sec:      3.19MB
`;

describe("load generator reports", () => {
  test("wrk's report gives requests, rate, p50 and p99 in ms, error responses and socket errors", () => {
    assert.deepEqual(parseWrkOutput(WRK_REPORT), { tool: "wrk", requests: 169597, rps: 16956.12, p50Ms: 0.87, p99Ms: 1200, non2xx: 12, socketErrors: 7 });
  });

  test("a wrk report without latency percentiles is refused, quoting it", () => {
    assert.throws(() => parseWrkOutput("unable to connect to 127.0.0.1:1 Connection refused\n"), {
      message: "cannot read wrk's report:\nunable to connect to 127.0.0.1:1 Connection refused\n",
    });
  });

  test("autocannon's JSON report gives the rate over its duration and its percentiles", () => {
    const report = JSON.stringify({ duration: 2, requests: { total: 3000 }, latency: { p50: 1.5, p99: 9 }, non2xx: 3, errors: 1, timeouts: 2 });
    assert.deepEqual(parseAutocannonJson(`progress\n${report}\n`), { tool: "autocannon", requests: 3000, rps: 1500, p50Ms: 1.5, p99Ms: 9, non2xx: 3, socketErrors: 3 });
  });

  test("output without a JSON report from autocannon is refused, quoting it", () => {
    assert.throws(() => parseAutocannonJson("crashed\n"), { message: "cannot read autocannon's report:\ncrashed\n" });
  });
});

describe("CPU taken by the load generator and the server", () => {
  test("bash's times after the command gives the command's user and system seconds, and the stderr before it", () => {
    assert.deepEqual(parseShellTimes("a warning\n0m0.001s 0m0.002s\n1m2.345s 0m0,500s\n"), {
      children: { userSeconds: 62.345, systemSeconds: 0.5 },
      rest: "a warning",
    });
  });

  test("stderr without bash's times is refused, quoting it", () => {
    assert.throws(() => parseShellTimes("bash: wrk: command not found\n"), {
      message: "cannot read the load generator's CPU time from bash's times:\nbash: wrk: command not found\n",
    });
  });

  test("/proc/<pid>/stat gives utime and stime, counted after the command name even when it holds spaces and parentheses", () => {
    const stat = "4242 (node (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 75 0 0 20 0 11 0 1000 100000 5000\n";
    assert.deepEqual(parseProcStat(stat, 100), { userSeconds: 2.5, systemSeconds: 0.75 });
    assert.throws(() => parseProcStat("4242 (node) S 1\n", 100), { message: "cannot read /proc/<pid>/stat: 4242 (node) S 1" });
  });

  test("a process's CPU read from /proc agrees with what the kernel tells the process itself", { skip: !fs.existsSync("/proc/self/stat") && "no /proc" }, () => {
    const burnUntil = process.cpuUsage().user + 200_000;
    let spin = 0;
    while (process.cpuUsage().user < burnUntil) spin++;
    assert.ok(spin > 0);
    const usage = process.cpuUsage();
    const fromProc = readProcessCpu(process.pid);
    const fromProcess = (usage.user + usage.system) / 1e6;
    // /proc counts whole clock ticks (10 ms); both are the same kernel accounting of this process.
    assert.ok(Math.abs(fromProc.userSeconds + fromProc.systemSeconds - fromProcess) < 0.05, `/proc ${JSON.stringify(fromProc)}, process.cpuUsage ${fromProcess} s`);
  });

  test("the results table's notes say what the load generator took of the cores and what the server took", () => {
    const machine = { ...describeMachine(), cores: 2 };
    const results = new BenchResults();
    results.measurements.push({
      key: KEYS.honoArray,
      scenario: "2. POST /tasks intake, memory queue",
      system: "baseline (b): hono + in-memory array",
      throughput: { value: 20_000, unit: "req/s" },
      p50Ms: 2,
      p99Ms: 5,
      peakRssMb: 80,
      cpu: { loadGenerator: "wrk", loadGeneratorCores: 0.623, serverCores: 1.314 },
      notes: ["3 socket errors"],
    });
    const report = renderReport(reportInput({ machine, scenarios: ["intake-memory"], results }));
    assert.match(
      report,
      /^\| 2\. POST \/tasks intake, memory queue \| baseline \(b\): hono \+ in-memory array \| 20,000 req\/s \| 2\.00 ms \| 5\.00 ms \| 80 MB \| 3 socket errors; wrk took 0\.62 of the 2 cores, the server 1\.31 \|$/m,
    );
  });

  const tools: LoadToolName[] = ["wrk", "autocannon"];
  for (const name of tools) {
    test(`a load run by ${name} against a small server measures both processes' CPU over the measured run`, async (context) => {
      let tool: LoadTool;
      try {
        tool = chooseLoadTool(name, os.tmpdir());
      } catch (error) {
        context.skip(`${name} is not available: ${(error as Error).message}`);
        return;
      }
      const folder = fs.mkdtempSync(path.join(os.tmpdir(), "taskrt-bench-cpu-"));
      context.after(() => fs.rmSync(folder, { recursive: true, force: true }));
      const results = new BenchResults();
      const run = await measureServer(
        {
          durations: { ...QUICK_DURATIONS, warmupSeconds: 1, loadSeconds: 1 },
          registry: "app/_index.yaml",
          tool,
          tmpDir: folder,
          results,
          scenarios: [],
          bullmqUnavailable: undefined,
          cpuProfileDir: undefined,
          log: () => {},
        },
        {
          launch: (port) => ({
            label: "small server",
            nodeArgs: ["-e", "require('node:http').createServer((request, response) => response.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')"],
            env: { PORT: String(port) },
          }),
          load: { method: "GET", path: "/" },
        },
      );
      assert.equal(run.load.tool, name);
      assert.ok(run.load.requests > 0, "the server was loaded");
      const { userSeconds, systemSeconds, wallSeconds } = run.load.cpu;
      assert.ok(wallSeconds >= 1, `the run lasted its second, got ${wallSeconds} s`);
      assert.ok(userSeconds + systemSeconds > 0, `the generator used CPU: ${JSON.stringify(run.load.cpu)}`);
      const cores = os.availableParallelism();
      for (const [who, used] of Object.entries(run.cpu)) {
        assert.ok(used > 0 && used <= cores + 0.25, `${who}: ${used} of ${cores} cores`);
      }
      const measurement = loadMeasurement(KEYS.honoArray, "test", "small server", run);
      assert.deepEqual(measurement.cpu, { loadGenerator: name, ...run.cpu });
    });
  }
});

describe("request layers table", () => {
  test("each layer is its stack's CPU per request less the stack it builds on, each less its own process's client; shares are of create_task's total", () => {
    const row = (stack: string, comparedWith: string | undefined, microsPerRequest: number, clientMicros: number) => ({
      stack,
      adds: `what ${stack} adds`,
      comparedWith,
      microsPerRequest,
      clientMicros,
      requestsPerSecond: 1000,
    });
    const report: LayerReport = {
      seconds: 1,
      rounds: 1,
      rows: [
        row("canned answer over TCP", undefined, 30, 30),
        row("node:http", "canned answer over TCP", 50, 30),
        row("hono + array (baseline b)", "node:http", 70, 30),
        row("hono, fixed answer", "canned answer over TCP", 55, 30),
        // Measured in the other process, whose client cost 20.
        row("taskrt, handler writes a fixed answer", "hono, fixed answer", 70, 20),
        row("app/create_task.ts (memory queue)", "taskrt, handler writes a fixed answer", 120, 20),
      ],
    };
    const lines = renderLayerTable(report).split("\n");
    assert.equal(lines[2], "| canned answer over TCP | what canned answer over TCP adds | 30.0 (client) | | | 1,000 |");
    assert.equal(lines[4], "| hono + array (baseline b) | what hono + array (baseline b) adds (node:http) | 40.0 | 20.0 |  | 1,000 |");
    assert.equal(lines[5], "| hono, fixed answer | what hono, fixed answer adds (canned answer over TCP) | 25.0 | 25.0 | 25% | 1,000 |");
    assert.equal(lines[6], "| taskrt, handler writes a fixed answer | what taskrt, handler writes a fixed answer adds (hono, fixed answer) | 50.0 | 25.0 | 25% | 1,000 |");
    assert.equal(lines[7], "| app/create_task.ts (memory queue) | what app/create_task.ts (memory queue) adds (taskrt, handler writes a fixed answer) | 100.0 | 50.0 | 50% | 1,000 |");
  });
});

describe("bench options", () => {
  test("a full run of every scenario writes bench/RESULTS.md and profiles misses", () => {
    const options = parseBenchOptions([]);
    assert.equal(options.out, path.join(REPO_ROOT, "bench", "RESULTS.md"));
    assert.equal(options.scenarios.length, 6);
    assert.equal(options.profileMisses, true);
    assert.equal(options.outOnFailure, path.join(REPO_ROOT, "bench", "tmp", "RESULTS.failed.md"));
  });

  test("a quick or partial run writes beside the scratch files, never over bench/RESULTS.md", () => {
    const options = parseBenchOptions(["--quick", "--only", "startup,drain"]);
    assert.equal(options.out, path.join(REPO_ROOT, "bench", "tmp", "RESULTS.partial.md"));
    assert.deepEqual(options.scenarios, ["drain", "startup"]);
    assert.equal(options.profileMisses, false);
  });

  test("an unknown scenario is refused, listing the scenarios", () => {
    assert.throws(() => parseBenchOptions(["--only", "intake"]), {
      message: "unknown scenario 'intake'; scenarios: intake-durable, intake-memory, drain, list-under-load, startup, lua",
    });
  });

  test("an option missing its value, an unknown tool and an unknown argument are refused", () => {
    assert.throws(() => parseBenchOptions(["--only"]), { message: "--only needs a value" });
    assert.throws(() => parseBenchOptions(["--tool", "ab"]), { message: "--tool must be wrk or autocannon, got 'ab'" });
    assert.throws(() => parseBenchOptions(["--fast"]), { message: "unknown argument '--fast' (see --help)" });
  });
});

describe("targets", () => {
  const throughput = (value: number, unit: "req/s" | "tasks/s" = "req/s") => ({ value, unit });

  test("ratios divide taskrt's throughput by the baseline's and verdicts say by how much a target is missed", () => {
    const results = new BenchResults();
    results.measurements.push(
      { key: KEYS.durableIntake, scenario: "1", system: "taskrt", throughput: throughput(30_000), p99Ms: 12, notes: [] },
      { key: KEYS.sqliteFull, scenario: "1", system: "a", throughput: throughput(10_000), notes: [] },
      { key: KEYS.bullmqIntake, scenario: "1", system: "c", throughput: throughput(20_000), notes: [] },
      { key: KEYS.honoArray, scenario: "2", system: "b", throughput: throughput(60_000), notes: [] },
    );
    const ratios = computeRatios(results);
    assert.equal(ratios.find((ratio) => ratio.label === "durable intake ÷ hono + one INSERT (FULL)")?.value, 3);
    assert.deepEqual(
      judgeTargets(results, ["intake-durable"]).map((verdict) => [verdict.target, verdict.measured, verdict.met, verdict.detail]),
      [
        ["durable intake ÷ BullMQ intake ≥ 1×", "1.50×", true, ""],
        ["durable intake ÷ hono + array ≥ 0.55×", "0.50×", false, "9% short (needs 1.10× more)"],
        ["durable intake p99 at 50 connections ≤ 8 ms", "12.00 ms", false, "over by 4.00 ms (50%)"],
      ],
    );
  });

  test("the Lua scenario is judged on /healthz p99 under the attacks and on Lua ÷ TypeScript POST /tasks", () => {
    const results = new BenchResults();
    results.measurements.push(
      { key: KEYS.luaIntakeTypescript, scenario: "6", system: "ts", throughput: throughput(16_000), notes: [] },
      { key: KEYS.luaIntake, scenario: "6", system: "lua", throughput: throughput(8_000), notes: [] },
      { key: KEYS.luaAttacksHealthz, scenario: "6", system: "healthz", p99Ms: 6.5, notes: [] },
    );
    assert.deepEqual(
      judgeTargets(results, ["lua"]).map((verdict) => [verdict.target, verdict.measured, verdict.met, verdict.detail]),
      [
        ["/healthz p99 while 8 Lua attacks run ≤ 50 ms", "6.50 ms", true, ""],
        ["Lua create_task ÷ TypeScript create_task (POST /tasks) ≥ 0.6×", "0.50×", false, "17% short (needs 1.20× more)"],
      ],
    );
  });

  test("a target of a scenario that failed is not judged, and points at the failure", () => {
    const results = new BenchResults();
    results.failures.push({ scenario: "drain", message: "taskrt (draining): exited before all were done" });
    assert.deepEqual(
      judgeTargets(results, ["drain"]).map((verdict) => [verdict.target, verdict.met, verdict.detail]),
      [["drain ÷ BullMQ worker (concurrency 50) ≥ 3×", undefined, "scenario drain failed (see Failures)"]],
    );
  });

  test("a target whose baseline was skipped is not judged, and says why", () => {
    const results = new BenchResults();
    results.measurements.push({ key: KEYS.drain, scenario: "3", system: "taskrt", throughput: throughput(9_000, "tasks/s"), notes: [] });
    results.skips.push({ key: KEYS.bullmqWorker, scenario: "3", system: "d", reason: "no Redis at 127.0.0.1:6379 (connect ECONNREFUSED 127.0.0.1:6379)" });
    const [verdict] = judgeTargets(results, ["drain"]);
    assert.equal(verdict.met, undefined);
    assert.equal(verdict.detail, "no Redis at 127.0.0.1:6379 (connect ECONNREFUSED 127.0.0.1:6379)");
  });
});

describe("what bounds each miss", () => {
  const cpu = (serverCores: number, loadGeneratorCores = 0.6) => ({ loadGenerator: "wrk", loadGeneratorCores, serverCores });
  const facts = (results: BenchResults) => ({ results, cores: 2, commitRate: { before: 5_000, after: 7_000 }, connections: 50 });

  test("a missed durable-intake ratio is explained by the cores taken, CPU per request and the no-fsync baseline's own ratio", () => {
    const results = new BenchResults();
    results.measurements.push(
      { key: KEYS.durableIntake, scenario: "1", system: "taskrt", throughput: { value: 6_000, unit: "req/s" }, p50Ms: 7, p99Ms: 17, cpu: cpu(1.2), notes: [] },
      { key: KEYS.sqliteNormal, scenario: "1", system: "a", throughput: { value: 7_500, unit: "req/s" }, notes: [] },
      { key: KEYS.bullmqIntake, scenario: "1", system: "c", throughput: { value: 12_000, unit: "req/s" }, notes: [] },
      { key: KEYS.honoArray, scenario: "2", system: "b", throughput: { value: 20_000, unit: "req/s" }, notes: [] },
    );
    const [ratioMiss, , latencyMiss] = judgeTargets(results, ["intake-durable"]);
    const paragraph = explainMiss(ratioMiss, facts(results)) ?? "";
    assert.match(paragraph, /taskrt used 1\.20 of the 2 cores and wrk 0\.60 \(0\.20 idle\), 200 µs of CPU per request/);
    assert.match(paragraph, /hono \+ one INSERT \(NORMAL\).* reached 7,500 req\/s = 0\.63× BullMQ's intake, 0\.38× hono \+ array/);
    // The two ratios of the same figure share one paragraph.
    const bounds = explainMisses(judgeTargets(results, ["intake-durable"]), facts(results));
    assert.deepEqual(
      bounds.map((bound) => bound.target),
      ["durable intake ÷ BullMQ intake ≥ 1×; durable intake ÷ hono + array ≥ 0.55×", "durable intake p99 at 50 connections ≤ 8 ms"],
    );
    assert.match(paragraph, /waits out each COMMIT's fsync \(synchronous FULL; the disk managed 5,000 fsync'd commits\/s alone\)/);
    // 50 connections at 6,000 req/s wait 8.3 ms on average: a p99 of 8 ms needs more than 6,250 req/s.
    assert.match(explainMiss(latencyMiss, facts(results)) ?? "", /queue for 8\.3 ms on average at 6,000 req\/s .* needs more than 6,250 req\/s/);
  });

  test("a missed drain ratio is put down to the baseline's fsync per task, with taskrt against the baseline that does not wait for one", () => {
    const results = new BenchResults();
    results.measurements.push(
      { key: KEYS.drain, scenario: "3", system: "taskrt", throughput: { value: 9_000, unit: "tasks/s" }, notes: [] },
      { key: KEYS.bullmqWorker, scenario: "3", system: "d", throughput: { value: 3_600, unit: "tasks/s" }, notes: [] },
      { key: KEYS.bullmqWorkerNormal, scenario: "3", system: "d", throughput: { value: 9_000, unit: "tasks/s" }, notes: [] },
    );
    const [verdict] = judgeTargets(results, ["drain"]);
    assert.equal(verdict.met, false);
    assert.match(
      explainMiss(verdict, facts(results)) ?? "",
      /one fsync'd INSERT per task \(3,600 tasks\/s, with the disk managing 5,000 fsync'd commits\/s alone\).* writing with NORMAL \(no fsync to wait for: 9,000 tasks\/s\) taskrt is 1\.00×/,
    );
  });

  test("a met target gets no paragraph, and a miss without the figures to explain it gets none rather than a guess", () => {
    const results = new BenchResults();
    results.measurements.push(
      { key: KEYS.drain, scenario: "3", system: "taskrt", throughput: { value: 9_000, unit: "tasks/s" }, notes: [] },
      { key: KEYS.bullmqWorker, scenario: "3", system: "d", throughput: { value: 1_000, unit: "tasks/s" }, notes: [] },
      { key: KEYS.memoryIntake, scenario: "2", system: "taskrt", throughput: { value: 5_000, unit: "req/s" }, notes: [] },
    );
    const [drain] = judgeTargets(results, ["drain"]);
    assert.equal(drain.met, true);
    assert.equal(explainMiss(drain, facts(results)), undefined);
    const missWithoutBaseline = { target: "memory intake (:memory: db) ÷ hono + array ≥ 0.7×", measured: "—", met: false, detail: "", scenario: "intake-memory" as const };
    assert.equal(explainMiss(missWithoutBaseline, facts(results)), undefined);
  });

  test("the report lists each paragraph under its target", () => {
    const report = renderReport(
      reportInput({ scenarios: ["intake-durable"], bounds: [{ target: "durable intake p99 at 50 connections ≤ 8 ms", paragraph: "What bounds it: the loop." }] }),
    );
    assert.match(report, /## What bounds each miss\n[^]*\n- \*\*durable intake p99 at 50 connections ≤ 8 ms\.\*\* What bounds it: the loop\.\n/);
  });
});

describe("CPU profile summary", () => {
  test("self time is summed per function and per area, native frames charged to their caller", (context) => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "taskrt-bench-profile-"));
    context.after(() => fs.rmSync(folder, { recursive: true, force: true }));
    const driver = `file://${REPO_ROOT}/runtime/drivers/sql/sqlite.ts`;
    const handler = `file://${REPO_ROOT}/app/process_task.ts`;
    const profile = {
      nodes: [
        { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1 }, children: [5, 4] },
        { id: 5, callFrame: { functionName: "main", url: handler, lineNumber: 0 }, children: [2] },
        { id: 2, callFrame: { functionName: "execute", url: driver, lineNumber: 9 }, children: [3] },
        { id: 3, callFrame: { functionName: "run", url: "", lineNumber: -1 } },
        { id: 4, callFrame: { functionName: "(idle)", url: "", lineNumber: -1 } },
      ],
      startTime: 0,
      endTime: 10_000,
      samples: [2, 3, 3, 4],
      timeDeltas: [1_000, 3_000, 3_000, 3_000],
    };
    const file = path.join(folder, "test.cpuprofile");
    fs.writeFileSync(file, JSON.stringify(profile));
    const summary = summarizeCpuProfile(file);
    assert.equal(summary.totalMs, 10);
    assert.deepEqual(
      summary.functions.map((row) => [row.name, row.selfMs]),
      [
        ["run [native] ← execute runtime/drivers/sql/sqlite.ts:10", 6],
        ["(idle)", 3],
        ["execute runtime/drivers/sql/sqlite.ts:10", 1],
      ],
    );
    assert.deepEqual(
      summary.areas.map((row) => [row.name, row.selfMs]),
      [
        ["native, called from runtime/drivers/sql/sqlite.ts", 6],
        ["(idle)", 3],
        ["runtime/drivers/sql/sqlite.ts", 1],
      ],
    );
    assert.deepEqual(
      summary.handlers.map((row) => [row.name, row.selfMs]),
      [
        ["under app/process_task.ts", 7],
        ["outside any handler (HTTP, queue machinery, commits, GC, idle)", 3],
      ],
    );
  });
});

describe("npm run bench -- --quick --only startup", () => {
  test("runs taskrt and its reference, and writes a results table with start-up and idle memory rows", async (context) => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "taskrt-bench-smoke-"));
    context.after(() => fs.rmSync(folder, { recursive: true, force: true }));
    const out = path.join(folder, "RESULTS.md");
    const { code, output } = await run(["--import", "tsx", "bench/run.ts", "--quick", "--only", "startup", "--out", out, "--tmp-dir", folder]);
    assert.equal(code, 0, output);

    const results = fs.readFileSync(out, "utf8");
    assert.match(results, /^# taskrt benchmark results$/m);
    assert.match(results, new RegExp(`^\\| cores \\(nproc\\) \\| ${os.availableParallelism()} \\|$`, "m"));
    assert.match(results, new RegExp(`^\\| Node \\| ${process.version.replaceAll(".", "\\.")} `, "m"));
    assert.match(results, /^\| scenario \| system \| throughput \| p50 \| p99 \| peak RSS \| notes \|$/m);
    assert.match(results, /^\| 5\. start-up and idle memory \| taskrt run app\/_index\.yaml \(compiled; durable, consumers running\) \| ready in \d+ ms \| — \| — \| idle \d+ MB \(peak \d+ MB\) \| /m);
    assert.match(results, /\d+\.\d\d× the floor's start-up, \d+\.\d\d× its idle RSS/, "the start-up row compares taskrt with the floor of the same run");
    assert.match(results, /^\| 5\. start-up and idle memory \| reference: hono \+ array under tsx \(the floor\) \| ready in \d+ ms \| /m);
    assert.match(results, /^\| start-up to ready ≤ 300 ms \| \d+ ms \| (\*\*met\*\*|\*\*missed\*\*: over by \d+ ms \(\d+%\)) \|$/m);
    assert.match(results, /^\| idle RSS ≤ 80 MB \| \d+ MB \| (\*\*met\*\*|\*\*missed\*\*: over by \d+ MB \(\d+%\)) \|$/m);
  });
});

function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, output }));
  });
}
