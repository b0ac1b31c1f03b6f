/**
 * @module kinds/queue-driver-postgres — `queue.driver.postgres`: the durable PostgreSQL queue driver
 * as a supervised entry, in a table of the `db.sql.postgres` database it names. Its component is
 * the driver itself, which `queue.queue` entries use.
 */
import { TaskrtError } from "../errors.ts";
import { parseDuration } from "../duration.ts";
import { resolveId, type Entry } from "../registry/entry.ts";
import { PostgresQueueDriver, type SharedPostgresDatabase } from "../drivers/queue/postgres.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import { defineKind } from "../contracts/kind-definition.ts";

/** `entry.data` after validation filled the schema's defaults. */
interface PostgresQueueEntryData {
  db: string;
  ack_timeout: string | number;
  poll_interval: string | number;
}

export function createPostgresQueueDriver(entry: Entry, context: BuildContext): PostgresQueueDriver {
  const data = entry.data as unknown as PostgresQueueEntryData;
  return new PostgresQueueDriver({
    id: entry.id,
    database: sharedDatabase(entry, resolveId(data.db, entry.namespace), context),
    ackTimeoutMs: parseDuration(data.ack_timeout),
    pollIntervalMs: parseDuration(data.poll_interval),
    logger: context.logger.forEntry(entry.id),
  });
}

function sharedDatabase(entry: Entry, databaseId: string, context: BuildContext): SharedPostgresDatabase {
  const database = context.component<Partial<SharedPostgresDatabase>>(databaseId);
  if (typeof database.connectDedicated !== "function" || typeof database.runOutsideTransaction !== "function" || typeof database.currentTransaction !== "function") {
    throw new TaskrtError("E_QUEUE_STORAGE", `${entry.id}: db ${databaseId} is not a PostgreSQL database the queue can live in`, {
      entryId: entry.id,
      location: entry.locate(["db"]),
      hint: "point db at a db.sql.postgres entry",
    });
  }
  return database as SharedPostgresDatabase;
}

export default defineKind({
  kind: "queue.driver.postgres",
  summary: "Durable queue in a table of a db.sql.postgres database: several processes, SKIP LOCKED claims, LISTEN/NOTIFY wake-ups, publishes inside the caller's transaction",
  references: [{ path: ["db"], kinds: ["db.sql.postgres"] }],
  service: true,
  create: createPostgresQueueDriver,
});
