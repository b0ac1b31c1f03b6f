/**
 * The consumer's handler: stores one greeting per message. Delivery is at least once, so the
 * message id is the row's key and a redelivered message changes nothing.
 */
import { logger, queue, sql } from "taskrt";

export async function main(greeting: { name: string }): Promise<void> {
  const id = queue.message().id();
  const db = await sql.get("app:db");
  try {
    await db.execute("INSERT INTO greetings (id, name, message, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING", [
      id,
      greeting.name,
      `Hello, ${greeting.name}!`,
      Date.now(),
    ]);
  } finally {
    db.release();
  }
  logger.info("greeted", { id, name: greeting.name });
}
