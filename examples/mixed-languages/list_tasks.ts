/** GET /tasks[?status=], in TypeScript: the newest 100 tasks, payload and result decoded into objects. */
import { http, sql } from "taskrt";

export async function handler(): Promise<void> {
  const status = http.request().query("status");
  let query = sql.builder
    .select("id", "payload", "status", "result", "created_at", "processed_at")
    .from("tasks")
    .orderBy("created_at DESC", "rowid DESC")
    .limit(100);
  if (status) query = query.where({ status });

  const db = await sql.get("app:db");
  try {
    const rows = await query.runWith(db).query();
    const tasks = rows.map((row) => ({ ...row, payload: JSON.parse(String(row.payload)), result: row.result == null ? null : JSON.parse(String(row.result)) }));
    http.response().setStatus(http.STATUS.OK).writeJson({ tasks, count: tasks.length });
  } finally {
    db.release();
  }
}
