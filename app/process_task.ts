/**
 * The worker: marks the task running, does its action, stores the result. Delivery is at least
 * once, so it is idempotent: a task already completed is acknowledged without running it again.
 * A throw records the error and hands the message back for a retry (with backoff); after the
 * queue's max_attempts it is dead-lettered and app:mark_failed marks it failed.
 */
import { logger, queue, sql, time } from "taskrt";
import type { Task } from "./tasks.ts";

// The tutorial's simulated work; APP_WORK_DELAY=0 turns it off (benchmarks, crash tests).
const WORK_DELAY = process.env.APP_WORK_DELAY ?? "100ms";
/** How long a message may wait for its task row to be committed before the queue retries it. */
const ROW_WAIT_MS = 2000;
const ROW_POLL = "5ms";

export function perform(task: Task): { output: unknown } {
  switch (task.action) {
    case "uppercase":
      return { output: String(task.data.text ?? "").toUpperCase() };
    case "sum": {
      const numbers = Array.isArray(task.data.numbers) ? task.data.numbers : [];
      return { output: numbers.reduce((total: number, value) => total + Number(value), 0) };
    }
    case "fail":
      // A demo action that always fails: shows retries, backoff and dead letters.
      throw new Error(`action 'fail' always fails (attempt ${queue.message().attempts()})`);
    default:
      return { output: "processed" };
  }
}

export async function main(task: Task): Promise<boolean> {
  const attempt = queue.message().attempts();
  const db = await sql.get("app:db");
  try {
    // With a queue outside the database (RabbitMQ next to PostgreSQL), the message can arrive
    // before the transaction that published it has committed the row: wait for the row a little,
    // then let the queue retry (after max_attempts a message whose row never came is dead-lettered).
    const waitUntil = Date.now() + ROW_WAIT_MS;
    for (;;) {
      const started = await db.execute("UPDATE tasks SET status = 'running', attempts = ?, updated_at = ? WHERE id = ? AND status <> 'completed'", [
        attempt,
        Date.now(),
        task.id,
      ]);
      if (started.rowsAffected > 0) break;
      const [row] = await db.query("SELECT status FROM tasks WHERE id = ?", [task.id]);
      if (row?.status === "completed") {
        logger.debug("task already completed: acknowledging the redelivery", { id: task.id });
        return true;
      }
      if (row !== undefined) continue; // committed between the UPDATE and the SELECT
      if (Date.now() >= waitUntil) throw new Error(`task ${task.id} has no row: the request that queued it has not committed (yet)`);
      await time.sleep(ROW_POLL);
    }

    let result: { output: unknown };
    try {
      if (WORK_DELAY !== "0") await time.sleep(WORK_DELAY);
      result = perform(task);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await db.execute("UPDATE tasks SET status = 'queued', error = ?, updated_at = ? WHERE id = ? AND status <> 'completed'", [message, Date.now(), task.id]);
      throw error;
    }

    const now = Date.now();
    await db.execute("UPDATE tasks SET status = 'completed', result = ?, error = NULL, processed_at = ?, updated_at = ? WHERE id = ?", [
      JSON.stringify(result),
      now,
      now,
      task.id,
    ]);
    return true;
  } finally {
    db.release();
  }
}
