/**
 * @module bench/baselines/hono-bullmq — baseline (c): hono + @hono/node-server, POST /tasks adds
 * one BullMQ job per request (`queue.add`) on the local Redis before the 202. Env: PORT, QUEUE_NAME.
 */
import { serve } from "@hono/node-server";
import { Queue } from "bullmq";
import { Hono } from "hono";
import { BULLMQ_CONNECTION } from "./redis-connection.ts";
import { portFromEnvironment, requiredEnvironment, toTask } from "./task-request.ts";

const queue = new Queue(requiredEnvironment("QUEUE_NAME"), { connection: BULLMQ_CONNECTION });
await queue.waitUntilReady();

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
  // Acked jobs leave Redis, as acked messages leave taskrt's queue.
  await queue.add(task.action, task, { removeOnComplete: true });
  return context.json({ id: task.id, status: "queued" }, 202);
});

const server = serve({ fetch: app.fetch, port: portFromEnvironment(), hostname: "127.0.0.1" });
process.on("SIGTERM", () => {
  server.close();
  void queue.close().finally(() => process.exit(0));
});
