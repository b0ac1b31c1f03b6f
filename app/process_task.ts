/** The queue worker: does the task's action and stores the result. A throw gets the message retried. */
import { json, logger, queue, sql, time } from "taskrt";
import type { Task } from "./create_task.ts";

export function perform(task: Task): { output: unknown } {
  switch (task.action) {
    case "uppercase":
      return { output: String(task.data.text ?? "").toUpperCase() };
    case "sum": {
      const numbers = Array.isArray(task.data.numbers) ? task.data.numbers : [];
      return { output: numbers.reduce((total: number, value) => total + Number(value), 0) };
    }
    default:
      return { output: "processed" };
  }
}

export async function main(task: Task): Promise<boolean> {
  const message = queue.message();
  logger.debug("processing task", { id: task.id, action: task.action, attempt: message.attempts() });

  await time.sleep("100ms"); // the tutorial's simulated work

  const result = perform(task);
  const db = await sql.get("app:db");
  try {
    // A redelivered task overwrites its earlier row instead of failing on the primary key.
    await db.execute(
      `INSERT INTO tasks (id, payload, status, result, created_at, processed_at) VALUES (?, ?, 'completed', ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, result = excluded.result, processed_at = excluded.processed_at`,
      [task.id, json.encode(task), json.encode(result), task.created_at, time.unix()],
    );
  } finally {
    db.release();
  }
  return true;
}
