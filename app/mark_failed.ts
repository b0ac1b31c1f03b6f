/** Consumes the dead-letter queue: a task that used up its attempts is marked failed with its last error. */
import { logger, queue, sql } from "taskrt";
import type { Task } from "./tasks.ts";

export async function main(task: Task): Promise<void> {
  const message = queue.message();
  const reason = String(message.header("x_dead_reason") ?? "failed");
  const attempts = Number(message.header("x_attempts") ?? 0);
  const db = await sql.get("app:db");
  try {
    await db.execute("UPDATE tasks SET status = 'failed', error = ?, attempts = ?, updated_at = ? WHERE id = ? AND status <> 'completed'", [
      reason,
      attempts,
      Date.now(),
      task.id,
    ]);
  } finally {
    db.release();
  }
  logger.warn("task failed for good", { id: task.id, action: task.action, attempts, error: reason });
}
