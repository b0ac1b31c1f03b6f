/** @module bench/baselines/hono-array — baseline (b): hono + @hono/node-server, POST /tasks pushes onto an in-memory array. Env: PORT. */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { portFromEnvironment, toTask, type Task } from "./task-request.ts";

const queued: Task[] = [];

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
  queued.push(request.task);
  return context.json({ id: request.task.id, status: "queued" }, 202);
});

const server = serve({ fetch: app.fetch, port: portFromEnvironment(), hostname: "127.0.0.1" });
process.on("SIGTERM", () => {
  server.close();
  process.exit(0);
});
