/**
 * @module bench/baselines/hono-sqlite — baseline (a): hono + @hono/node-server + better-sqlite3,
 * one INSERT (autocommit, WAL) per POST /tasks before the 202. Env: PORT, DB_FILE, SYNCHRONOUS.
 *
 * GET /tasks[?status=&limit=&cursor=] serves the app's page of tasks (scenario 4's baseline) with
 * the app's own statements and JSON (app/task_pages.ts), on the one connection, synchronously.
 */
import { serve } from "@hono/node-server";
import Database from "better-sqlite3";
import { Hono } from "hono";
import { countWithinBudget, decodeCursor, moreFollow, pageJson, rowsStatement, sizesStatement, type Statement } from "../../app/task_pages.ts";
import { TASK_STATUSES } from "../../app/tasks.ts";
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

const prepared = new Map<string, Database.Statement>();
function all(statement: Statement): Record<string, unknown>[] {
  let prepare = prepared.get(statement.sql);
  if (!prepare) prepared.set(statement.sql, (prepare = database.prepare(statement.sql)));
  return prepare.all(...statement.params) as Record<string, unknown>[];
}

app.get("/tasks", (context) => {
  const status = context.req.query("status");
  const limitText = context.req.query("limit");
  const cursor = context.req.query("cursor");
  if (status !== undefined && !(TASK_STATUSES as readonly string[]).includes(status)) return context.json({ error: `unknown status '${status}'` }, 400);
  const limit = limitText === undefined ? 100 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return context.json({ error: "limit must be a whole number from 1 to 1000" }, 400);
  const before = cursor === undefined ? undefined : decodeCursor(cursor);
  if (before === null) return context.json({ error: "invalid cursor" }, 400);
  const filter = { status, before };
  const candidates = all(sizesStatement(filter, limit));
  const fits = countWithinBudget(candidates, limit);
  const page = fits === 0 ? [] : all(rowsStatement(filter, String(candidates[fits - 1].id), fits));
  return context.body(pageJson(page, moreFollow(candidates, fits, page)), 200, { "content-type": "application/json" });
});

const server = serve({ fetch: app.fetch, port: portFromEnvironment(), hostname: "127.0.0.1" });
process.on("SIGTERM", () => {
  server.close();
  database.close();
  process.exit(0);
});
