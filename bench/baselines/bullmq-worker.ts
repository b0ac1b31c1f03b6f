/**
 * @module bench/baselines/bullmq-worker — baseline (d): a BullMQ worker doing the app's work (the
 * action, then an INSERT of the result into SQLite, WAL). Env: QUEUE_NAME, DB_FILE, CONCURRENCY,
 * SYNCHRONOUS. The results table is created by the bench before the worker starts.
 */
import { Worker } from "bullmq";
import Database from "better-sqlite3";
import { BULLMQ_CONNECTION } from "./redis-connection.ts";
import { perform, requiredEnvironment, type Task } from "./task-request.ts";

const synchronous = process.env.SYNCHRONOUS ?? "FULL";
if (synchronous !== "FULL" && synchronous !== "NORMAL") throw new Error(`SYNCHRONOUS must be FULL or NORMAL, got ${synchronous}`);
const concurrency = Number(requiredEnvironment("CONCURRENCY"));

const database = new Database(requiredEnvironment("DB_FILE"), { fileMustExist: true });
database.pragma("journal_mode = WAL");
database.pragma(`synchronous = ${synchronous}`);
const insert = database.prepare("INSERT INTO results (id, result, processed_at) VALUES (?, ?, ?)");

const worker = new Worker(
  requiredEnvironment("QUEUE_NAME"),
  async (job) => {
    const task = job.data as Task;
    insert.run(task.id, JSON.stringify(perform(task)), Date.now());
  },
  { connection: BULLMQ_CONNECTION, concurrency },
);

process.on("SIGTERM", () => {
  void worker.close().finally(() => {
    database.close();
    process.exit(0);
  });
});
