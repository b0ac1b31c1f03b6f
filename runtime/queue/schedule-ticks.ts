/**
 * @module queue/schedule-ticks — the table where schedules claim their ticks, shared by every
 * taskrt process on one database: a tick is published by the process whose claim inserted its row.
 *
 * A claim succeeds only for a tick later than every tick the schedule already claimed, so the
 * table keeps just the latest row per schedule (older ones are pruned in the claiming transaction)
 * without a slow process ever re-claiming a pruned tick. That row is also the schedule's last run,
 * read at start to publish what was missed. Plain SQL with `?` placeholders, for SQLite and PostgreSQL.
 */
import type { SqlExecutor } from "../drivers/sql/driver.ts";

export const TICKS_TABLE = "taskrt_schedule_ticks";

const CREATE_SQL = `CREATE TABLE IF NOT EXISTS ${TICKS_TABLE} (
  schedule_id TEXT NOT NULL,
  tick_at BIGINT NOT NULL,
  claimed_at BIGINT NOT NULL,
  PRIMARY KEY (schedule_id, tick_at)
)`;

const LAST_SQL = `SELECT MAX(tick_at) AS last FROM ${TICKS_TABLE} WHERE schedule_id = ?`;

// The casts let PostgreSQL type the parameters of a SELECT list; ON CONFLICT covers two claims of
// the same tick that both passed NOT EXISTS (PostgreSQL under READ COMMITTED).
const CLAIM_SQL = `INSERT INTO ${TICKS_TABLE} (schedule_id, tick_at, claimed_at)
  SELECT CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT)
  WHERE NOT EXISTS (SELECT 1 FROM ${TICKS_TABLE} WHERE schedule_id = ? AND tick_at >= ?)
  ON CONFLICT DO NOTHING`;

const PRUNE_SQL = `DELETE FROM ${TICKS_TABLE} WHERE schedule_id = ? AND tick_at < ?`;

export async function createTicksTable(executor: SqlExecutor): Promise<void> {
  await executor.execute(CREATE_SQL);
}

/** The latest tick claimed for the schedule (Unix ms), or undefined when it never ran on this database. */
export async function lastClaimedTick(executor: SqlExecutor, scheduleId: string): Promise<number | undefined> {
  const [row] = await executor.query(LAST_SQL, [scheduleId]);
  const last = row?.last;
  return last === null || last === undefined ? undefined : Number(last);
}

/** Claims `tick` inside the caller's transaction: true when this call won it (and older rows are gone). */
export async function claimTick(transaction: SqlExecutor, scheduleId: string, tick: number, now: number): Promise<boolean> {
  const result = await transaction.execute(CLAIM_SQL, [scheduleId, tick, now, scheduleId, tick]);
  if (result.rowsAffected !== 1) return false;
  await transaction.execute(PRUNE_SQL, [scheduleId, tick]);
  return true;
}
