/**
 * Consumes app:scheduled_tasks, where queue.schedule entries publish: each tick becomes a task,
 * stored as queued and published to app:tasks_queue in one transaction, as POST /tasks does. The
 * task's id is derived from the schedule and the tick, so a redelivered message finds the row it
 * already created and queues nothing twice.
 */
import { createHash } from "node:crypto";
import { queue, sql } from "taskrt";
import type { Task } from "./tasks.ts";

/** A UUIDv7 whose time is the tick's and whose other bits come from hashing schedule and tick. */
export function tickTaskId(schedule: string, scheduledAt: number): string {
  const bytes = createHash("sha256").update(`${schedule}@${scheduledAt}`).digest().subarray(0, 16);
  bytes.writeUIntBE(scheduledAt, 0, 6);
  bytes[6] = 0x70 | (bytes[6] & 0x0f);
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export async function main(body: unknown): Promise<void> {
  const message = queue.message();
  const schedule = message.header("x_schedule");
  const scheduledAt = Date.parse(String(message.header("x_scheduled_at")));
  if (typeof schedule !== "string" || !Number.isFinite(scheduledAt)) {
    throw new Error("no x_schedule and x_scheduled_at headers: app:scheduled_tasks takes messages from queue.schedule entries");
  }
  const fields = body !== null && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  if (typeof fields.action !== "string" || fields.action === "") throw new Error(`schedule ${schedule} publishes no action: give its body an action`);
  const data = fields.data ?? {};
  if (data === null || typeof data !== "object" || Array.isArray(data)) throw new Error(`schedule ${schedule}: body.data must be an object`);

  const now = Date.now();
  const task: Task = { id: tickTaskId(schedule, scheduledAt), action: fields.action, data: data as Record<string, unknown>, created_at: now };
  const db = await sql.get("app:db");
  try {
    await db.transaction(async (tx) => {
      const inserted = await tx.execute(
        "INSERT INTO tasks (id, action, payload, status, attempts, created_at, updated_at) VALUES (?, ?, ?, 'queued', 0, ?, ?) ON CONFLICT (id) DO NOTHING",
        [task.id, task.action, JSON.stringify(task), now, now],
      );
      if (inserted.rowsAffected === 1) await queue.publish("app:tasks_queue", task);
    });
  } finally {
    db.release();
  }
}
