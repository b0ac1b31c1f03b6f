/** GET /tasks[?status=]: the newest 100 tasks, payload and result as JSON objects. */
import { http, sql } from "taskrt";

export async function handler(): Promise<void> {
  const request = http.request();
  const response = http.response();
  const status = request.query("status");

  let query = sql.builder
    .select("id", "payload", "status", "result", "created_at", "processed_at")
    .from("tasks")
    .orderBy("created_at DESC", "rowid DESC")
    .limit(100);
  if (status) query = query.where({ status });

  const db = await sql.get("app:db");
  try {
    const rows = await query.runWith(db).query();
    const tasks = rows.map((row) => ({ ...row, payload: parse(row.payload), result: parse(row.result) }));
    response.setStatus(http.STATUS.OK).writeJson({ tasks, count: tasks.length });
  } finally {
    db.release();
  }
}

function parse(text: unknown): unknown {
  return typeof text === "string" ? JSON.parse(text) : text ?? null;
}
