/** GET /greetings: every stored greeting, oldest first. */
import { http, sql } from "taskrt";

export async function handler(): Promise<void> {
  const db = await sql.get("app:db");
  try {
    const greetings = await db.query("SELECT id, name, message, created_at FROM greetings ORDER BY created_at, id");
    http.response().setStatus(http.STATUS.OK).writeJson({ greetings });
  } finally {
    db.release();
  }
}
