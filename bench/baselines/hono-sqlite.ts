/**
 * @module bench/baselines/hono-sqlite — baseline (a): hono + @hono/node-server + better-sqlite3,
 * one INSERT (autocommit, WAL) per POST /tasks before the 202. Env: PORT, DB_FILE, SYNCHRONOUS.
 */
import { serve } from "@hono/node-server";
import Database from "better-sqlite3";
import { Hono } from "hono";
import { TASKS_SCHEMA, portFromEnvironment, requiredEnvironment, toTask } from "./task-request.ts";

const synchronous = process.env.SYNCHRONOUS ?? "FULL";
if (synchronous !== "FULL" && synchronous !== "NORMAL") throw new Error(`SYNCHRONOUS must be FULL or NORMAL, got ${synchronous}`);

const database = new Database(requiredEnvironment("DB_FILE"));
database.pragma("journal_mode = WAL");
database.pragma(`synchronous = ${synchronous}`);
database.exec(TASKS_SCHEMA);
const insert = database.prepare("INSERT INTO tasks (id, action, payload, status, attempts, created_at, updated_at) VALUES (?, ?, ?, 'queued', 0, ?, ?)");

const app = new Hono();
app.post("/tasks", async (context) => {
  let body: unknown;
  try {
    body = await context.req.json();
  } catch {
    return context.json({ error: "invalid JSON" }, 400);
  }
  const request = toTask(body);
  if ("error" in request) return context.json({ error: request.error }, 400);
  const { task } = request;
  insert.run(task.id, task.action, JSON.stringify(task), task.created_at, task.created_at);
  return context.json({ id: task.id, status: "queued" }, 202);
});

const server = serve({ fetch: app.fetch, port: portFromEnvironment(), hostname: "127.0.0.1" });
process.on("SIGTERM", () => {
  server.close();
  database.close();
  process.exit(0);
});
