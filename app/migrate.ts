/** Creates the tasks table. Runs once under app:migrate-service; a throw makes the supervisor retry it. */
import { logger, sql } from "taskrt";

export async function main(): Promise<void> {
  const db = await sql.get("app:db");
  try {
    await db.execute(`
      CREATE TABLE IF NOT EXISTS tasks (
        id TEXT PRIMARY KEY,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        result TEXT,
        created_at INTEGER NOT NULL,
        processed_at INTEGER
      )`);
    await db.execute("CREATE INDEX IF NOT EXISTS tasks_status_created ON tasks (status, created_at)");
  } finally {
    db.release();
  }
  logger.info("migration complete");
}
