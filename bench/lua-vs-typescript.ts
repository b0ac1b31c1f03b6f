/**
 * @module bench/lua-vs-typescript — what a Lua handler costs against the same handler in
 * TypeScript: calls per second through the path endpoints and consumers use (`callable().call()`),
 * and requests per second end to end over HTTP: examples/mixed-languages run twice, its POST /tasks
 * handler once as the tutorial's create_task.lua and once as its TypeScript twin create_task.ts,
 * both publishing to the memory queue.
 *
 * Run: `node --import tsx bench/lua-vs-typescript.ts [--duration=5000] [--calls=200000] [--rounds=3]`.
 * The HTTP servers run as `taskrt run` child processes, so the load generator gets its own core.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import functionLua from "../runtime/kinds/function-lua.ts";
import functionTs from "../runtime/kinds/function-ts.ts";
import type { Component } from "../runtime/contracts/component.ts";
import type { CallableComponent, CallScope } from "../runtime/handlers/handler.ts";
import { TestServices, buildContext, fakeExchange, luaEntry } from "../runtime/handlers/lua/test-support.ts";
import { runLoad } from "./load.ts";

export interface Comparison {
  measure: string;
  unit: "calls/s" | "req/s";
  typescript: number;
  lua: number;
}

interface Settings {
  calls: number;
  /** Each measure runs this many times per language, alternating; the median is reported. */
  rounds: number;
  durationMs: number;
  connections: number;
}

const TASK = { id: "0b6c8a52-6a34-4d4e-9d0e-2f1f8f0f6c11", action: "uppercase", data: { text: "hello world" }, created_at: 1_700_000_000 };
const CREATE_BODY = JSON.stringify({ action: "uppercase", data: { text: "hello world" } });

// ---- calls through callable().call() -----------------------------------------------------------

interface HandlerPair {
  measure: string;
  /** Relative to the project root. */
  lua: { root: string; source: string };
  typescript: { root: string; source: string };
  method: string;
  modules: string[];
  /** Arguments and scope for one call; the scope is fresh per call when the handler writes to it. */
  call: () => { args: unknown[]; scope?: CallScope };
  /** Fewer calls for handlers that do real work. */
  callsFactor: number;
}

const PAIRS: HandlerPair[] = [
  {
    measure: "return true",
    lua: { root: "test/fixtures/lua/bench", source: "trivial.lua" },
    typescript: { root: "test/fixtures/lua/bench", source: "trivial.ts" },
    method: "handler",
    modules: ["json"],
    call: () => ({ args: [TASK] }),
    callsFactor: 1,
  },
  {
    measure: "json.encode(task)",
    lua: { root: "test/fixtures/lua/bench", source: "trivial.lua" },
    typescript: { root: "test/fixtures/lua/bench", source: "trivial.ts" },
    method: "encode",
    modules: ["json"],
    call: () => ({ args: [TASK] }),
    callsFactor: 1,
  },
  {
    measure: "create_task (fake exchange)",
    lua: { root: "examples/wippy-tutorial/src", source: "create_task.lua" },
    typescript: { root: "examples/mixed-languages", source: "create_task.ts" },
    method: "handler",
    modules: ["http", "queue", "uuid"],
    call: () => ({ args: [], scope: { http: fakeExchange({ method: "POST", body: CREATE_BODY }) } }),
    callsFactor: 0.25,
  },
];

async function startHandler(language: "lua" | "typescript", pair: HandlerPair, services: TestServices): Promise<Component & CallableComponent> {
  const { root, source } = pair[language];
  const absoluteRoot = path.resolve(root);
  const entry = luaEntry("function.lua", `bench_${language}`, absoluteRoot, { source: `file://${source}`, method: pair.method, modules: pair.modules });
  const definition = language === "lua" ? functionLua : functionTs;
  const component = definition.create({ ...entry, kind: definition.kind }, buildContext(absoluteRoot, services)) as Component & CallableComponent;
  await component.start!();
  return component;
}

async function callsPerSecond(component: CallableComponent, pair: HandlerPair, services: TestServices, calls: number, concurrency: number): Promise<number> {
  const callable = component.callable();
  const once = async () => {
    const { args, scope } = pair.call();
    const result = await callable.call(args, scope);
    if (result.error) throw result.error;
    if (services.published.length > 10_000) services.published.length = 0;
  };
  for (let index = 0; index < Math.min(20_000, calls / 5); index++) await once(); // warm up
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < calls) await once();
    }),
  );
  return calls / ((performance.now() - started) / 1000);
}

export async function measureCalls(settings: Settings): Promise<Comparison[]> {
  const rows: Comparison[] = [];
  const services = new TestServices([], ["app:tasks_queue"]);
  for (const pair of PAIRS) {
    const calls = Math.round(settings.calls * pair.callsFactor);
    const components = { typescript: await startHandler("typescript", pair, services), lua: await startHandler("lua", pair, services) };
    try {
      for (const concurrency of [1, 50]) {
        const rounds = await alternate(settings.rounds, (language) => callsPerSecond(components[language], pair, services, calls, concurrency));
        rows.push({ measure: `${pair.measure}, concurrency ${concurrency}`, unit: "calls/s", ...rounds });
      }
    } finally {
      await components.typescript.stop?.();
      await components.lua.stop?.();
    }
  }
  return rows;
}

/**
 * Runs `measure` for TypeScript then Lua, `rounds` times, and keeps each language's median: the
 * machine may be shared, and alternating spreads any disturbance over both languages.
 */
async function alternate(rounds: number, measure: (language: "typescript" | "lua") => Promise<number>): Promise<{ typescript: number; lua: number }> {
  const results = { typescript: [] as number[], lua: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    for (const language of ["typescript", "lua"] as const) results[language].push(await measure(language));
  }
  return { typescript: median(results.typescript), lua: median(results.lua) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

// ---- end to end over HTTP --------------------------------------------------------------------

interface Server {
  url: string;
  stop(): Promise<void>;
}

const REGISTRY = "examples/mixed-languages";

/** `taskrt run` of the mixed registry on a free port, without the consumer (so the measure is intake + publish). */
async function startServer(language: "typescript" | "lua"): Promise<Server> {
  const directory = mkdtempSync(path.join(tmpdir(), "taskrt-bench-"));
  const child = spawn(
    process.execPath,
    [
      path.resolve("bin/taskrt.js"),
      "run",
      REGISTRY,
      "-o", "app:gateway:addr=127.0.0.1:0",
      "-o", `app:db:file=${path.join(directory, "tasks.db")}`,
      "-o", "app:task_consumer:lifecycle.auto_start=false",
      // Nothing consumes: let the queue hold every request of the run instead of pushing back.
      "-o", "app:tasks_queue:driver_options.memory.max_length=50000000",
      ...(language === "typescript"
        ? ["-o", "app:create_task:kind=function.ts", "-o", `app:create_task:source=file://${path.resolve(REGISTRY, "create_task.ts")}`]
        : []),
    ],
    { env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const exited = once(child, "exit");
  const port = await new Promise<string>((resolve, reject) => {
    const read = (chunk: Buffer) => {
      output += chunk;
      const port = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1];
      if (port && /ready in \d+ms/.test(output)) resolve(port);
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    exited.then(() => reject(new Error(`taskrt run ${REGISTRY} (${language}) exited before it was ready:\n${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill("SIGTERM");
      await exited;
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

export async function measureHttp(settings: Settings): Promise<Comparison[]> {
  const servers = { typescript: await startServer("typescript"), lua: await startServer("lua") };
  const latency = { typescript: [] as string[], lua: [] as string[] };
  try {
    const load = (language: "typescript" | "lua") => ({ url: `${servers[language].url}/tasks`, method: "POST", body: CREATE_BODY, connections: settings.connections });
    for (const language of ["typescript", "lua"] as const) await runLoad({ ...load(language), durationMs: Math.min(2000, settings.durationMs) }); // warm up
    const rounds = await alternate(settings.rounds, async (language) => {
      const result = await runLoad({ ...load(language), durationMs: settings.durationMs });
      if (result.errors > 0) throw new Error(`${language}: ${result.errors} of ${result.requests} requests failed`);
      latency[language].push(`${Math.round(result.rps).toLocaleString("en")} req/s (p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms)`);
      return result.rps;
    });
    console.log(`HTTP rounds: TypeScript ${latency.typescript.join(", ")}\n             Lua ${latency.lua.join(", ")}`);
    return [{ measure: `POST /tasks (create_task → memory queue), ${settings.connections} connections`, unit: "req/s", ...rounds }];
  } finally {
    await servers.typescript.stop();
    await servers.lua.stop();
  }
}

// ---- report ------------------------------------------------------------------------------

export function formatTable(rows: Comparison[]): string {
  const format = (value: number) => Math.round(value).toLocaleString("en");
  const lines = [
    "| measure | unit | TypeScript | Lua | Lua / TS |",
    "|---|---|---:|---:|---:|",
    ...rows.map((row) => `| ${row.measure} | ${row.unit} | ${format(row.typescript)} | ${format(row.lua)} | ${(row.lua / row.typescript).toFixed(2)}× |`),
  ];
  return lines.join("\n");
}

function readSettings(argv: string[]): Settings {
  const option = (name: string, fallback: number) => {
    const found = argv.find((arg) => arg.startsWith(`--${name}=`));
    return found ? Number(found.slice(name.length + 3)) : fallback;
  };
  return { calls: option("calls", 200_000), rounds: option("rounds", 3), durationMs: option("duration", 5000), connections: option("connections", 50) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const settings = readSettings(process.argv.slice(2));
  const rows = [...(await measureCalls(settings)), ...(await measureHttp(settings))];
  console.log(formatTable(rows));
}
