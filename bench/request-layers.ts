/**
 * @module bench/request-layers — what each layer of taskrt's POST /tasks path costs per request, in
 * one process: the same request through progressively fuller stacks, each answered `202`, from a
 * bare TCP answer to the app's own handler on the memory queue with its tasks table in `:memory:`.
 *
 * The load comes from the measuring process itself (50 keep-alive connections, one request in
 * flight on each), so the figure per stack is that process's CPU time (user + system, GC threads
 * included) divided by the requests answered; a canned answer over TCP, measured in the same
 * process, is what the client and the sockets cost, and is taken off. Each row's "layer" is its
 * difference from the stack it builds on.
 *
 * Two child processes measure: one the baselines (node:http, hono), one taskrt. In one process the
 * bench's @hono/node-server and the copy bundled in dist/ would each take the other's Response for
 * a foreign one and send it the slow way, which charges one side for the other's presence.
 *
 *   node --import tsx bench/request-layers.ts [--seconds N] [--rounds N] [--json]
 *
 * `npm run bench` runs it when intake-memory is measured and reports its table.
 */
import { execFile } from "node:child_process";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import type { Runtime, RuntimeOptions } from "../runtime/runtime.ts";
import type { Logger, LoggerOptions } from "../runtime/logger.ts";
import { toTask, type Task } from "./baselines/task-request.ts";
import { CONNECTIONS, TASK_BODY } from "./lib/settings.ts";

export interface LayerRow {
  stack: string;
  /** What this stack adds to the one it is compared with. */
  adds: string;
  /** The stack it is compared with (its "layer" is the difference); none for the first. */
  comparedWith: string | undefined;
  /** CPU µs per request of the whole stack, client included. */
  microsPerRequest: number;
  /** The client's and the sockets' share in the process that measured this stack (taken off its total). */
  clientMicros: number;
  requestsPerSecond: number;
}

export interface LayerReport {
  rows: LayerRow[];
  /** Each stack's measured load, and how many times it was measured (the lowest figure is kept). */
  seconds: number;
  rounds: number;
}

export type StackGroup = "baselines" | "taskrt";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
export const REGISTRY = path.join(BENCH, "request-layers", "_index.yaml");
/** The compiled runtime, as `taskrt run` runs it (its handlers' `import "taskrt"` resolves there too). */
const DIST_RUNTIME = path.join(BENCH, "..", "dist", "runtime");

/** Starts the layers' registry on the compiled runtime; `npm run build` (or `npm run bench`) makes it. */
export async function startLayersRuntime(): Promise<Runtime> {
  if (!existsSync(path.join(DIST_RUNTIME, "runtime.js"))) throw new Error("dist/runtime/runtime.js is missing: run npm run build first (npm run bench does)");
  // As in the bench variant: without the tutorial's 100 ms of simulated work per task, the consumers
  // keep up, so no publish waits for room in the memory queue.
  process.env.APP_WORK_DELAY = "0";
  const { startRuntime } = (await import(path.join(DIST_RUNTIME, "runtime.js"))) as { startRuntime(options: RuntimeOptions): Promise<Runtime> };
  const { createLogger } = (await import(path.join(DIST_RUNTIME, "logger.js"))) as { createLogger(options: LoggerOptions): Logger };
  return startRuntime({ path: REGISTRY, logger: createLogger({ level: "error" }) });
}
const ANSWER = JSON.stringify({ id: "01890000-0000-7000-8000-000000000000", status: "queued" });
const CANNED = `HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: ${ANSWER.length}\r\n\r\n${ANSWER}`;

interface Load {
  requests: number;
  cpuMicros: number;
  wallSeconds: number;
}

/**
 * Keeps CONNECTIONS keep-alive connections busy with POST `urlPath` for `seconds`, one request in
 * flight on each; every answer must be a 202, or the stack is reported broken.
 */
export async function drive(port: number, urlPath: string, seconds: number): Promise<Load> {
  const request = Buffer.from(
    `POST ${urlPath} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(TASK_BODY)}\r\n\r\n${TASK_BODY}`,
  );
  let requests = 0;
  let stopping = false;
  let failure: Error | undefined;
  const sockets: net.Socket[] = [];
  const finished: Promise<void>[] = [];
  const startCpu = process.cpuUsage();
  const startWall = performance.now();
  for (let index = 0; index < CONNECTIONS; index++) {
    const socket = net.connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    sockets.push(socket);
    finished.push(
      new Promise<void>((resolve) => {
        let pending: Buffer = Buffer.alloc(0);
        socket.on("connect", () => socket.write(request));
        socket.on("data", (chunk: Buffer) => {
          pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
          for (;;) {
            const headEnd = pending.indexOf("\r\n\r\n");
            if (headEnd < 0) return;
            const head = pending.toString("latin1", 0, headEnd);
            const length = /content-length: *(\d+)/i.exec(head);
            if (!length) {
              failure ??= new Error(`${urlPath}: an answer without content-length: ${head}`);
              socket.destroy();
              return;
            }
            const total = headEnd + 4 + Number(length[1]);
            if (pending.length < total) return;
            if (!head.startsWith("HTTP/1.1 202")) failure ??= new Error(`${urlPath} answered ${head.split("\r\n")[0]}: ${pending.toString("utf8", headEnd + 4, total)}`);
            pending = pending.subarray(total);
            requests++;
            if (stopping || failure) {
              socket.end();
              return;
            }
            socket.write(request);
          }
        });
        socket.on("error", (error) => {
          failure ??= error;
          resolve();
        });
        socket.on("close", () => resolve());
      }),
    );
  }
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  stopping = true;
  await Promise.all(finished);
  const cpu = process.cpuUsage(startCpu);
  const wallSeconds = (performance.now() - startWall) / 1000;
  if (failure) throw failure;
  return { requests, cpuMicros: cpu.user + cpu.system, wallSeconds };
}

interface Stack {
  stack: string;
  adds: string;
  comparedWith?: string;
  /** Starts the server; resolves with its port and how to stop it. */
  start(): Promise<{ port: number; path: string; stop(): Promise<void> }>;
}

function listening(server: net.Server | http.Server, urlPath: string): Promise<{ port: number; path: string; stop(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo;
      resolve({
        port: address.port,
        path: urlPath,
        stop: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            if ("closeAllConnections" in server) server.closeAllConnections();
          }),
      });
    });
  });
}

const queued: Task[] = [];

function cannedStack(): Stack {
  return {
      stack: "canned answer over TCP",
      adds: "the client and the sockets (subtracted below)",
      start: () =>
        listening(
          net.createServer((socket) => {
            socket.setNoDelay(true);
            // One request per chunk: the client sends one at a time, small enough for one segment.
            socket.on("data", () => socket.write(CANNED));
          }),
          "/tasks",
        ),
  };
}

function baselineStacks(): Stack[] {
  return [
    {
      stack: "node:http",
      comparedWith: "canned answer over TCP",
      adds: "HTTP parse and response headers (node:http), body read, JSON.parse, the task built",
      start: () =>
        listening(
          http.createServer((request, response) => {
            const chunks: Buffer[] = [];
            request.on("data", (chunk: Buffer) => chunks.push(chunk));
            request.on("end", () => {
              const parsed = toTask(JSON.parse(Buffer.concat(chunks).toString("utf8")));
              if ("error" in parsed) throw new Error(parsed.error);
              const answer = JSON.stringify({ id: parsed.task.id, status: "queued" });
              response.writeHead(202, { "content-type": "application/json", "content-length": Buffer.byteLength(answer) });
              response.end(answer);
            });
          }),
          "/tasks",
        ),
    },
    {
      stack: "hono + array (baseline b)",
      comparedWith: "node:http",
      adds: "@hono/node-server's Request/Response, Hono's route match, the push onto an array",
      start: () => {
        const app = new Hono();
        app.post("/tasks", async (context) => {
          const parsed = toTask(await context.req.json());
          if ("error" in parsed) return context.json({ error: parsed.error }, 400);
          queued.push(parsed.task);
          if (queued.length > 10_000) queued.length = 0;
          return context.json({ id: parsed.task.id, status: "queued" }, 202);
        });
        return listening(createAdaptorServer({ fetch: app.fetch }), "/tasks");
      },
    },
    {
      stack: "hono, fixed answer",
      comparedWith: "canned answer over TCP",
      adds: "node:http and @hono/node-server's Request/Response, Hono's route match, a fixed JSON answer",
      start: () => {
        const app = new Hono();
        app.post("/tasks", (context) => context.json({ id: "01890000-0000-7000-8000-000000000000", status: "queued" }, 202));
        return listening(createAdaptorServer({ fetch: app.fetch }), "/tasks");
      },
    },
  ];
}

function taskrtStacks(port: () => number): Stack[] {
  const at = (urlPath: string) => async () => ({ port: port(), path: urlPath, stop: async () => {} });
  return [
    {
      stack: "taskrt, handler writes a fixed answer",
      comparedWith: "hono, fixed answer",
      adds: "taskrt's dispatch (in-flight record, exchange, metrics), call context, handler call, response from what it wrote",
      start: at("/layers/answer"),
    },
    { stack: "+ request schema", comparedWith: "taskrt, handler writes a fixed answer", adds: "the JSON check of the body and the declared request schema", start: at("/layers/schema") },
    { stack: "+ body read", comparedWith: "+ request schema", adds: "request.bodyJson() and the field checks", start: at("/layers/body") },
    { stack: "+ task built", comparedWith: "+ body read", adds: "uuid.v7() and JSON.stringify of the task", start: at("/layers/task") },
    { stack: "+ INSERT in a transaction", comparedWith: "+ task built", adds: "sql.get, db.transaction (group commit on :memory:), tx.execute", start: at("/layers/insert") },
    {
      stack: "app/create_task.ts (memory queue)",
      comparedWith: "+ INSERT in a transaction",
      adds: "queue.publish after the commit, and the consumers processing each task",
      start: at("/tasks"),
    },
  ];
}

/**
 * One group's stacks (after the canned answer that measures the client) listening at once in this
 * process, measured in turn for `rounds` rounds; each stack's figure is its lowest CPU per request
 * over the rounds (a busy machine only ever adds to it).
 */
export async function measureGroup(group: StackGroup, seconds: number, rounds: number, log: (line: string) => void = () => {}): Promise<LayerRow[]> {
  const runtime = group === "taskrt" ? await startLayersRuntime() : undefined;
  const servers: { stack: Stack; port: number; path: string; stop(): Promise<void> }[] = [];
  try {
    const stacks = runtime ? taskrtStacks(() => runtime.component<{ address(): { port: number } }>("app:gateway").address().port) : baselineStacks();
    for (const stack of [cannedStack(), ...stacks]) servers.push({ stack, ...(await stack.start()) });
    // Every stack once untimed first: the first request to a handler loads its code, and the JIT
    // needs a moment with each path before its figure means anything.
    for (const server of servers) await drive(server.port, server.path, 1);
    const best = new Map<Stack, { micros: number; rate: number }>();
    for (let round = 1; round <= rounds; round++) {
      for (const server of servers) {
        await drive(server.port, server.path, Math.min(1, seconds / 2)); // warm-up
        const load = await drive(server.port, server.path, seconds);
        const micros = load.cpuMicros / load.requests;
        log(`round ${round}: ${server.stack.stack}: ${micros.toFixed(1)} µs CPU per request`);
        const previous = best.get(server.stack);
        if (!previous || micros < previous.micros) best.set(server.stack, { micros, rate: load.requests / load.wallSeconds });
      }
    }
    const clientMicros = best.get(servers[0].stack)!.micros;
    return servers.map(({ stack }) => ({
      stack: stack.stack,
      adds: stack.adds,
      comparedWith: stack.comparedWith,
      microsPerRequest: best.get(stack)!.micros,
      clientMicros,
      requestsPerSecond: best.get(stack)!.rate,
    }));
  } finally {
    for (const server of servers) await server.stop();
    await runtime?.stop();
  }
}

/** Both groups, each in a child process of its own, one after the other; the canned row once, from the baselines' process. */
export async function measureRequestLayers(seconds: number, rounds: number): Promise<LayerReport> {
  const baselines = await measureInChild("baselines", seconds, rounds);
  const taskrt = await measureInChild("taskrt", seconds, rounds);
  return { rows: [...baselines, ...taskrt.slice(1)], seconds, rounds };
}

function measureInChild(group: StackGroup, seconds: number, rounds: number): Promise<LayerRow[]> {
  const script = fileURLToPath(import.meta.url);
  const args = ["--import", "tsx", script, "--group", group, "--seconds", String(seconds), "--rounds", String(rounds)];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: path.join(BENCH, ".."), maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`the ${group} stacks failed: ${error.message.split("\n")[0]}\n${stderr.trim().split("\n").slice(-10).join("\n")}`));
      else resolve(JSON.parse(stdout) as LayerRow[]);
    });
  });
}

/**
 * The table: each stack's CPU per request with the client's share taken off, what its layer adds
 * over the stack it is compared with, and that layer's share of app/create_task.ts's total.
 */
export function renderLayerTable(report: LayerReport): string {
  const byName = new Map(report.rows.map((row) => [row.stack, row]));
  const last = report.rows[report.rows.length - 1];
  const full = last.microsPerRequest - last.clientMicros;
  const lines = [
    `| stack | adds (over the stack in brackets) | µs/request | layer µs | layer share of create_task | req/s here |`,
    `|---|---|---:|---:|---:|---:|`,
  ];
  for (const row of report.rows) {
    const rate = Math.round(row.requestsPerSecond).toLocaleString("en-US");
    const base = row.comparedWith === undefined ? undefined : byName.get(row.comparedWith);
    if (!base) {
      lines.push(`| ${row.stack} | ${row.adds} | ${row.microsPerRequest.toFixed(1)} (client) | | | ${rate} |`);
      continue;
    }
    const total = row.microsPerRequest - row.clientMicros;
    // Each side less its own process's client: the taskrt rows build on a stack measured in the other process.
    const layer = total - (base.microsPerRequest - base.clientMicros);
    const share = row.stack === "node:http" || row.stack === "hono + array (baseline b)" ? "" : `${((layer / full) * 100).toFixed(0)}%`;
    lines.push(`| ${row.stack} | ${row.adds} (${row.comparedWith}) | ${total.toFixed(1)} | ${layer.toFixed(1)} | ${share} | ${rate} |`);
  }
  return lines.join("\n");
}

/** For `npm run bench`: the table as Markdown with a line on how it was taken; a failure is reported in its place. */
export async function requestLayersSection(quick: boolean): Promise<string> {
  // About 40 s in all (1 s per stack, 2 rounds): the table is a guide to where time goes, not a target.
  const seconds = 1;
  const rounds = quick ? 1 : 2;
  try {
    const report = await measureRequestLayers(seconds, rounds);
    return `\`bench/request-layers.ts\`: ${CONNECTIONS} connections from the measuring process, each stack ${seconds} s after a warm-up, the lowest of ${rounds} round${rounds === 1 ? "" : "s"}; CPU µs per request (user + system) with the client's share taken off (the baselines and taskrt each in a process of their own). On a busy machine these move by ±20%: read the large layers, not the small ones.\n\n${renderLayerTable(report)}`;
  } catch (error) {
    return `Not measured: ${error instanceof Error ? error.message : String(error)}`;
  }
}

async function main(argv: string[]): Promise<void> {
  const secondsAt = argv.indexOf("--seconds");
  const seconds = secondsAt >= 0 ? Number(argv[secondsAt + 1]) : 3;
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`--seconds needs a positive number, got ${argv[secondsAt + 1]}`);
  const roundsAt = argv.indexOf("--rounds");
  const rounds = roundsAt >= 0 ? Number(argv[roundsAt + 1]) : 3;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds needs a whole number of at least 1, got ${argv[roundsAt + 1]}`);
  const groupAt = argv.indexOf("--group");
  if (groupAt >= 0) {
    // A child of measureRequestLayers: one group's rows as JSON.
    const group = argv[groupAt + 1];
    if (group !== "baselines" && group !== "taskrt") throw new Error(`--group must be baselines or taskrt, got ${group}`);
    console.log(JSON.stringify(await measureGroup(group, seconds, rounds)));
    return;
  }
  const report = await measureRequestLayers(seconds, rounds);
  if (argv.includes("--json")) console.log(JSON.stringify(report));
  else console.log(renderLayerTable(report));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
  // The runtime's own timers are stopped; anything left (a keep-alive socket) must not hold the exit.
  process.exit(0);
}
