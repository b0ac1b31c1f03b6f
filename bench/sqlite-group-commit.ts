/**
 * @module bench/sqlite-group-commit — what group commit buys the SQLite driver: transactions per
 * second for concurrent callers each running `transaction(insert + insert)`, with every transaction
 * committed on its own (batchMaxTransactions 1, the driver before group commit) and batched, under
 * synchronous FULL and NORMAL; single-statement `execute` INSERTs beside them; and reads from outside
 * during the write load, on the read-only connection or waiting for the lock.
 *
 * Run: `node --import tsx bench/sqlite-group-commit.ts [--duration=2000] [--concurrency=50] [--readers=10] [--rounds=3]`.
 * Every row runs once per round, the rows of a round one after another; each column is the median
 * over the rounds, since fsync times on a shared disk wander.
 * Each database is a fresh file in a temporary folder, removed at the end. Every caller starts each
 * operation from a fresh turn of the event loop, as an HTTP request arriving would.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { SqliteDatabase, type SqliteOptions, type SqliteSynchronous } from "../runtime/drivers/sql/sqlite.ts";

interface Settings {
  durationMs: number;
  concurrency: number;
  readers: number;
  rounds: number;
}

type Row = Record<string, string | number>;

interface Measured {
  operations: number;
  seconds: number;
  latencies: number[];
}

const WARMUP_MS = 300;
const folder = fs.mkdtempSync(path.join(os.tmpdir(), "taskrt-group-commit-"));
let fileCounter = 0;

function readSettings(): Settings {
  const { values } = parseArgs({
    options: {
      duration: { type: "string", default: "2000" },
      concurrency: { type: "string", default: "50" },
      readers: { type: "string", default: "10" },
      rounds: { type: "string", default: "3" },
    },
  });
  return { durationMs: Number(values.duration), concurrency: Number(values.concurrency), readers: Number(values.readers), rounds: Number(values.rounds) };
}

async function freshDatabase(options: Partial<SqliteOptions>): Promise<SqliteDatabase> {
  const db = new SqliteDatabase({
    id: "bench:db",
    file: path.join(folder, `bench-${++fileCounter}.db`),
    busyTimeoutMs: 5000,
    synchronous: "FULL",
    closeTimeoutMs: 5000,
    ...options,
  });
  await db.open();
  await db.execute("CREATE TABLE tasks (id INTEGER PRIMARY KEY, title TEXT NOT NULL); CREATE TABLE outbox (id INTEGER PRIMARY KEY, task_id INTEGER NOT NULL, body TEXT NOT NULL)");
  return db;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** `workers` loops, each running `operation` once per turn until the time is up; a warm-up runs first, unmeasured. */
async function drive(workers: number, durationMs: number, operation: (worker: number) => Promise<unknown>): Promise<Measured> {
  const run = async (milliseconds: number, latencies: number[] | undefined): Promise<number> => {
    const deadline = performance.now() + milliseconds;
    let operations = 0;
    await Promise.all(
      Array.from({ length: workers }, async (_, worker) => {
        while (performance.now() < deadline) {
          await nextTurn();
          const started = performance.now();
          await operation(worker);
          latencies?.push(performance.now() - started);
          operations++;
        }
      }),
    );
    return operations;
  };
  await run(WARMUP_MS, undefined);
  const latencies: number[] = [];
  const started = performance.now();
  const operations = await run(durationMs, latencies);
  return { operations, seconds: (performance.now() - started) / 1000, latencies };
}

function insertTask(db: SqliteDatabase): Promise<unknown> {
  return db.transaction(async (tx) => {
    const { lastInsertId } = await tx.execute("INSERT INTO tasks (title) VALUES (?)", ["write the report"]);
    await tx.execute("INSERT INTO outbox (task_id, body) VALUES (?, ?)", [lastInsertId, '{"action":"uppercase"}']);
  });
}

function percentile(sorted: number[], fraction: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
}

function latencyColumns(latencies: number[]): { p50: string; p99: string } {
  const sorted = latencies.sort((left, right) => left - right);
  return { p50: percentile(sorted, 0.5).toFixed(2), p99: percentile(sorted, 0.99).toFixed(2) };
}

async function transactionRow(settings: Settings, synchronous: SqliteSynchronous, batched: boolean): Promise<Row> {
  const db = await freshDatabase({ synchronous, batchMaxTransactions: batched ? undefined : 1 });
  try {
    const commitsBefore = db.commitCount;
    const measured = await drive(settings.concurrency, settings.durationMs, () => insertTask(db));
    // The warm-up's commits count too: transactions per commit is over the whole run.
    const warmupAndMeasured = (await db.query("SELECT COUNT(*) AS n FROM tasks"))[0].n as number;
    return {
      workload: `transaction(2 inserts), ${batched ? "batched" : "one COMMIT each"}`,
      synchronous,
      "ops/s": Math.round(measured.operations / measured.seconds),
      "tx/commit": (warmupAndMeasured / (db.commitCount - commitsBefore)).toFixed(1),
      "p50 ms": latencyColumns(measured.latencies).p50,
      "p99 ms": latencyColumns(measured.latencies).p99,
    };
  } finally {
    await db.close();
  }
}

async function statementRow(settings: Settings, synchronous: SqliteSynchronous): Promise<Row> {
  const db = await freshDatabase({ synchronous });
  try {
    const measured = await drive(settings.concurrency, settings.durationMs, () => db.execute("INSERT INTO tasks (title) VALUES (?)", ["write the report"]));
    return {
      workload: "execute(1 insert), autocommit",
      synchronous,
      "ops/s": Math.round(measured.operations / measured.seconds),
      "tx/commit": "1.0",
      ...Object.fromEntries(Object.entries(latencyColumns(measured.latencies)).map(([key, value]) => [`${key} ms`, value])),
    };
  } finally {
    await db.close();
  }
}

/** Writers as above, and readers looking tasks up by id from outside any transaction, at the same time. */
async function mixedRows(settings: Settings, readConnection: boolean): Promise<Row[]> {
  const db = await freshDatabase({ synchronous: "FULL", readConnection });
  try {
    for (let index = 0; index < 1000; index++) await db.execute("INSERT INTO tasks (title) VALUES (?)", [`seed ${index}`]);
    const commitsBefore = db.commitCount;
    let readerIndex = 0;
    const [writes, reads] = await Promise.all([
      drive(settings.concurrency, settings.durationMs, () => insertTask(db)),
      drive(settings.readers, settings.durationMs, () => db.query("SELECT id, title FROM tasks WHERE id = ?", [(readerIndex++ % 1000) + 1])),
    ]);
    const transactions = ((await db.query("SELECT COUNT(*) AS n FROM tasks"))[0].n as number) - 1000;
    const perCommit = (transactions / (db.commitCount - commitsBefore)).toFixed(1);
    const how = readConnection ? "reads on the read connection" : "reads wait for the lock";
    return [
      { workload: `mixed, ${how}: writes`, synchronous: "FULL", "ops/s": Math.round(writes.operations / writes.seconds), "tx/commit": perCommit, "p50 ms": latencyColumns(writes.latencies).p50, "p99 ms": latencyColumns(writes.latencies).p99 },
      { workload: `mixed, ${how}: reads`, synchronous: "FULL", "ops/s": Math.round(reads.operations / reads.seconds), "tx/commit": "", "p50 ms": latencyColumns(reads.latencies).p50, "p99 ms": latencyColumns(reads.latencies).p99 },
    ];
  } finally {
    await db.close();
  }
}

/** Per column, the median of the rounds' values (numbers and numeric text alike); text columns from the first round. */
function medianRow(rounds: Row[]): Row {
  const row: Row = {};
  for (const [column, first] of Object.entries(rounds[0])) {
    const values = rounds.map((round) => Number(round[column])).sort((left, right) => left - right);
    if (first === "" || values.some(Number.isNaN)) row[column] = first;
    else {
      const median = values[Math.floor(values.length / 2)];
      row[column] = typeof first === "number" ? median : median.toFixed(column === "tx/commit" ? 1 : 2);
    }
  }
  return row;
}

async function round(settings: Settings): Promise<Row[]> {
  const rows: Row[] = [];
  for (const synchronous of ["FULL", "NORMAL"] as const) {
    rows.push(await transactionRow(settings, synchronous, false));
    rows.push(await transactionRow(settings, synchronous, true));
    rows.push(await statementRow(settings, synchronous));
  }
  rows.push(...(await mixedRows(settings, false)));
  rows.push(...(await mixedRows(settings, true)));
  return rows;
}

async function main(): Promise<void> {
  const settings = readSettings();
  console.log(
    `SQLite group commit: ${settings.concurrency} concurrent callers (${settings.readers} readers in the mixed rows), ` +
      `${settings.durationMs} ms per row, median of ${settings.rounds} rounds, files in ${folder}`,
  );
  const rounds: Row[][] = [];
  try {
    for (let index = 0; index < settings.rounds; index++) rounds.push(await round(settings));
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
  console.table(rounds[0].map((_, row) => medianRow(rounds.map((rows) => rows[row]))));
}

await main();
