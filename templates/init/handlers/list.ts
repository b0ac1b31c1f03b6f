/** GET /greetings: every stored greeting, oldest first. */
import { http, sql } from "taskrt";

interface Greeting {
  id: string;
  name: string;
  message: string;
  created_at: number;
}

export async function handler(): Promise<void> {
  const db = await sql.get("app:db");
  try {
    const greetings = await db.query<Greeting>("SELECT id, name, message, created_at FROM greetings ORDER BY created_at, id");
    http.response().setStatus(http.STATUS.OK).writeJson({ greetings });
  } finally {
    db.release();
  }
}
