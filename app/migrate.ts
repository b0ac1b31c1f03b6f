/** Creates the tasks table and its indexes (SQLite and PostgreSQL alike). A throw makes the supervisor retry. */
import { logger, sql } from "taskrt";

const STATEMENTS = [
  `CREATE TABLE IF NOT EXISTS tasks (
     id TEXT PRIMARY KEY,
     action TEXT NOT NULL,
     payload TEXT NOT NULL,
     status TEXT NOT NULL DEFAULT 'queued',
     result TEXT,
     error TEXT,
     attempts INTEGER NOT NULL DEFAULT 0,
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL,
     processed_at BIGINT
   )`,
  // Ids are UUIDv7 (time-ordered): newest first is id DESC, and pages continue below the last id.
  "CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (status, id)",
];

export async function main(): Promise<void> {
  const db = await sql.get("app:db");
  try {
    for (const statement of STATEMENTS) await db.execute(statement);
  } finally {
    db.release();
  }
  logger.info("migration complete");
}
