/**
 * POST /tasks: checks the body, then stores the task row as queued and publishes its message in
 * one batch (one transaction) — so a 202 means both are committed, and neither exists without the other.
 */
import { http, sql, uuid } from "taskrt";
import { isUnavailable, type Task } from "./tasks.ts";

export async function handler(): Promise<void> {
  const request = http.request();
  const response = http.response();

  let body: unknown;
  try {
    body = await request.bodyJson();
  } catch {
    response.setStatus(http.STATUS.BAD_REQUEST).writeJson({ error: "invalid JSON" });
    return;
  }
  const fields = body !== null && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  if (typeof fields.action !== "string" || fields.action === "") {
    response.setStatus(http.STATUS.BAD_REQUEST).writeJson({ error: "action required" });
    return;
  }
  const data = fields.data ?? {};
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    response.setStatus(http.STATUS.BAD_REQUEST).writeJson({ error: "data must be an object" });
    return;
  }

  const now = Date.now();
  const task: Task = { id: uuid.v7(), action: fields.action, data: data as Record<string, unknown>, created_at: now };
  const payload = JSON.stringify(task);
  try {
    const db = await sql.get("app:db");
    try {
      await db.batch((b) => {
        b.execute("INSERT INTO tasks (id, action, payload, status, attempts, created_at, updated_at) VALUES (?, ?, ?, 'queued', 0, ?, ?)", [
          task.id,
          task.action,
          payload,
          now,
          now,
        ]);
        b.publish("app:tasks_queue", task);
      });
    } finally {
      db.release();
    }
  } catch (error) {
    if (!isUnavailable(error)) throw error;
    response.setStatus(http.STATUS.SERVICE_UNAVAILABLE).setHeader("Retry-After", "1").writeJson({ error: "task store unavailable, task not accepted; retry later" });
    return;
  }
  response.setStatus(http.STATUS.ACCEPTED).writeJson({ id: task.id, status: "queued" });
}
