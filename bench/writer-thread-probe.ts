/**
 * @module bench/writer-thread-probe — what moving SQLite's write connection (its statements, COMMIT
 * and fsync, synchronous FULL) onto a writer thread would buy, before the driver is rebuilt around
 * one: the same durable transactions, on the same disk in the same run, three ways.
 *
 * - `main thread`: the SQLite driver as it is (group commit on the event loop).
 * - `writer thread, one message per transaction`: a worker owns the connection and runs the group
 *   commit; each transaction travels as one message (its statements known up front) and its
 *   caller resumes when the COMMIT that covered it returned. The best case of the design.
 * - `writer thread, one message per statement`: a transaction as handlers write it, `await`ing
 *   each statement: BEGIN (savepoint), the INSERT, END each a round trip, and the next transaction
 *   can start in the batch only once the previous one ended.
 * - `driver, writer: thread, batch()` and `… transaction()`: the same two ways through the real
 *   ThreadedSqliteDatabase (drivers/sql/sqlite-writer), which hosts the SqliteDatabase above in its
 *   writer thread: what the driver costs beside the bare prototype.
 *
 * For each: transactions per second, the callers' p50/p99, the main thread's event-loop delay p99
 * (what every other request on the process waits) and its utilisation (what is left for HTTP).
 *
 * Run: `node --import tsx bench/writer-thread-probe.ts [--duration=3000] [--concurrency=50] [--rounds=2]`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { SqliteDatabase } from "../runtime/drivers/sql/sqlite.ts";
import { ThreadedSqliteDatabase } from "../runtime/drivers/sql/sqlite-writer/threaded-database.ts";

const INSERT = "INSERT INTO tasks (id, payload, created_at) VALUES (?, ?, ?)";
const SCHEMA = "CREATE TABLE tasks (id TEXT PRIMARY KEY, payload TEXT NOT NULL, created_at INTEGER NOT NULL)";
const PAYLOAD = JSON.stringify({ action: "uppercase", data: { text: "hello world" } });

/** The writer thread: owns the connection; group commit over the messages that arrived meanwhile. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.betterSqlite3);
const db = new Database(workerData.file);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = FULL");
const insert = db.prepare(workerData.insert);
const savepoint = db.prepare("SAVEPOINT t"), release = db.prepare("RELEASE t");
const begin = db.prepare("BEGIN IMMEDIATE"), commit = db.prepare("COMMIT");
let open = false, ended = [], queue = [], active = undefined, scheduled = false;
function ensureBatch() { if (!open) { begin.run(); open = true; } }
function commitSoon() {
  if (scheduled) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    if (active !== undefined || !open) return;
    commit.run();
    open = false;
    const done = ended; ended = [];
    parentPort.postMessage({ committed: done });
    startNext();
  });
}
function startNext() {
  if (active !== undefined || queue.length === 0) return;
  const next = queue.shift();
  ensureBatch();
  savepoint.run();
  active = next;
  parentPort.postMessage({ begun: next });
}
parentPort.on("message", (m) => {
  if (m.whole) { // one message per transaction
    ensureBatch();
    savepoint.run(); insert.run(m.params); release.run();
    ended.push(m.whole);
    commitSoon();
  } else if (m.begin) {
    queue.push(m.begin);
    startNext();
  } else if (m.statement) {
    insert.run(m.params);
    parentPort.postMessage({ ran: m.statement });
  } else if (m.end) {
    release.run();
    ended.push(m.end);
    active = undefined;
    if (queue.length > 0) startNext(); else commitSoon();
  } else if (m.close) {
    if (open) commit.run();
    db.close();
    parentPort.postMessage({ closed: true });
  }
});
`;

interface Settings {
  durationMs: number;
  concurrency: number;
  rounds: number;
}

interface Figures {
  transactions: number;
  seconds: number;
  latencies: number[];
  loopDelayP99Ms: number;
  utilisation: number;
}

type Transaction = (index: number) => Promise<void>;

const folder = fs.mkdtempSync(path.join(os.tmpdir(), "taskrt-writer-probe-"));
let files = 0;
const freshFile = (): string => path.join(folder, `probe-${files++}.db`);
const betterSqlite3 = path.join(path.dirname(new URL(import.meta.url).pathname), "..", "node_modules", "better-sqlite3");

async function measure(settings: Settings, run: Transaction): Promise<Figures> {
  const latencies: number[] = [];
  let transactions = 0;
  let counter = 0;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const deadline = performance.now() + settings.durationMs;
  const utilisationBefore = performance.eventLoopUtilization();
  delay.enable();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: settings.concurrency }, async () => {
      while (performance.now() < deadline) {
        // A fresh turn of the event loop for each, as an HTTP request arriving would.
        await new Promise((resolve) => setImmediate(resolve));
        const begun = performance.now();
        await run(counter++);
        latencies.push(performance.now() - begun);
        transactions++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  delay.disable();
  const utilisation = performance.eventLoopUtilization(utilisationBefore).utilization;
  return { transactions, seconds, latencies, loopDelayP99Ms: delay.percentile(99) / 1e6, utilisation };
}

async function mainThread(settings: Settings): Promise<Figures> {
  const db = new SqliteDatabase({ id: "probe", file: freshFile(), busyTimeoutMs: 5000, synchronous: "FULL", closeTimeoutMs: 5000 });
  await db.open();
  await db.execute(SCHEMA);
  try {
    return await measure(settings, (index) => db.transaction(async (tx) => void (await tx.execute(INSERT, [`main-${index}`, PAYLOAD, Date.now()]))));
  } finally {
    await db.close();
  }
}

async function threadedDriver(settings: Settings, interactive: boolean): Promise<Figures> {
  const db = new ThreadedSqliteDatabase({ id: "probe", file: freshFile(), busyTimeoutMs: 5000, synchronous: "FULL", closeTimeoutMs: 5000 });
  await db.open();
  await db.execute(SCHEMA);
  try {
    return await measure(settings, async (index) => {
      const params = [`driver-${index}`, PAYLOAD, Date.now()];
      if (interactive) await db.transaction(async (tx) => void (await tx.execute(INSERT, params)));
      else await db.batch([{ sql: INSERT, params }]);
    });
  } finally {
    await db.close();
  }
}

async function writerThread(settings: Settings, perStatement: boolean): Promise<Figures> {
  const file = freshFile();
  const setup = new SqliteDatabase({ id: "probe-setup", file, busyTimeoutMs: 5000, synchronous: "FULL", closeTimeoutMs: 5000 });
  await setup.open();
  await setup.execute(SCHEMA);
  await setup.close();
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, insert: INSERT, betterSqlite3 } });
  const waiting = new Map<string, () => void>();
  const settle = (key: string): void => {
    const resolve = waiting.get(key);
    waiting.delete(key);
    resolve?.();
  };
  worker.on("message", (message: { committed?: number[]; begun?: number; ran?: number }) => {
    if (message.committed) for (const id of message.committed) settle(`c${id}`);
    if (message.begun !== undefined) settle(`b${message.begun}`);
    if (message.ran !== undefined) settle(`r${message.ran}`);
  });
  const answer = (key: string): Promise<void> => new Promise((resolve) => waiting.set(key, resolve));
  try {
    return await measure(settings, async (index) => {
      const id = index + 1;
      const params = [`worker-${index}`, PAYLOAD, Date.now()];
      if (!perStatement) {
        const committed = answer(`c${id}`);
        worker.postMessage({ whole: id, params });
        return committed;
      }
      const begun = answer(`b${id}`);
      worker.postMessage({ begin: id });
      await begun;
      const ran = answer(`r${id}`);
      worker.postMessage({ statement: id, params });
      await ran;
      const committed = answer(`c${id}`);
      worker.postMessage({ end: id });
      await committed;
    });
  } finally {
    const closed = new Promise((resolve) => worker.once("message", resolve));
    worker.postMessage({ close: true });
    await closed;
    await worker.terminate();
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { duration: { type: "string" }, concurrency: { type: "string" }, rounds: { type: "string" } } });
  const settings: Settings = { durationMs: Number(values.duration ?? 3000), concurrency: Number(values.concurrency ?? 50), rounds: Number(values.rounds ?? 2) };
  const rows: [string, () => Promise<Figures>][] = [
    ["main thread (the driver today)", () => mainThread(settings)],
    ["writer thread, one message per transaction", () => writerThread(settings, false)],
    ["writer thread, one message per statement", () => writerThread(settings, true)],
    ["driver, writer: thread, batch()", () => threadedDriver(settings, false)],
    ["driver, writer: thread, transaction()", () => threadedDriver(settings, true)],
  ];
  const results = new Map<string, Figures[]>();
  for (let round = 0; round < settings.rounds; round++) {
    for (const [label, run] of rows) results.set(label, [...(results.get(label) ?? []), await run()]);
  }
  console.log(`load average ${os.loadavg().map((value) => value.toFixed(2)).join(" ")}; ${settings.concurrency} callers, ${settings.durationMs} ms, median of ${settings.rounds} rounds; synchronous FULL, WAL`);
  console.log("| how | transactions/s | p50 ms | p99 ms | main loop delay p99 ms | main loop busy |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const [label] of rows) {
    const runs = results.get(label)!;
    const cell = (pick: (figures: Figures) => number, digits: number): string => median(runs.map(pick)).toFixed(digits);
    console.log(
      `| ${label} | ${cell((f) => f.transactions / f.seconds, 0)} | ${cell((f) => percentile(f.latencies, 50), 2)} | ${cell((f) => percentile(f.latencies, 99), 2)} | ${cell((f) => f.loopDelayP99Ms, 2)} | ${cell((f) => f.utilisation * 100, 0)}% |`,
    );
  }
  fs.rmSync(folder, { recursive: true, force: true });
}

await main();
