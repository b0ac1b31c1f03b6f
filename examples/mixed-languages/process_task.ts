/**
 * The queue worker, in TypeScript, for tasks published by create_task.lua: the Lua table arrives
 * as a plain object ({id, action, data, created_at}), its integers as numbers. A throw retries it.
 */
import { json, logger, sql, time } from "taskrt";

interface Task {
  id: string;
  action: string;
  /** An object, or [] when the request had no data: Lua's empty table crosses as an empty array. */
  data: { text?: string; numbers?: number[] } | [];
  created_at: number;
}

function perform(task: Task): { output: unknown } {
  const data = Array.isArray(task.data) ? {} : task.data;
  if (task.action === "uppercase") return { output: String(data.text ?? "").toUpperCase() };
  if (task.action === "sum") return { output: (data.numbers ?? []).reduce((total, value) => total + value, 0) };
  return { output: "processed" };
}

export async function main(task: Task): Promise<void> {
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
  logger.info("task completed", { id: task.id, by: "typescript" });
}
