/** Creates the greetings table. Runs once at start; a throw makes taskrt retry it with backoff. */
import { logger, sql } from "taskrt";

export async function main(): Promise<void> {
  const db = await sql.get("app:db");
  try {
    await db.execute(`CREATE TABLE IF NOT EXISTS greetings (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      message TEXT NOT NULL,
      created_at INTEGER NOT NULL
    )`);
  } finally {
    db.release();
  }
  logger.info("migration complete");
}
