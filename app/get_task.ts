/** GET /tasks/:id — one task, or 404. */
import { http, sql } from "taskrt";
import { TASK_COLUMNS, presentTask } from "./tasks.ts";

export async function handler(): Promise<void> {
  const request = http.request();
  const response = http.response();
  const db = await sql.get("app:db");
  try {
    const rows = await sql.builder.select(...TASK_COLUMNS).from("tasks").where({ id: request.param("id") }).limit(1).runWith(db).query();
    if (rows.length === 0) {
      response.setStatus(http.STATUS.NOT_FOUND).writeJson({ error: "task not found" });
      return;
    }
    response.setStatus(http.STATUS.OK).writeJson(presentTask(rows[0]));
  } finally {
    db.release();
  }
}
