/**
 * @module drivers/queue/sqlite-schema — the SQLite queue's table, its fetch index, and every
 * statement the driver runs, prepared once per connection.
 */
import type BetterSqlite3 from "better-sqlite3";

/** Prefixed so the queue can live in the application's own database without clashing. */
export const MESSAGES_TABLE = "taskrt_queue_messages";
/** Per-queue settings every process sharing the database obeys: paused or not. */
export const QUEUE_STATE_TABLE = "taskrt_queue_state";
/** Rate-limit windows: deliveries counted per key in the current window, shared by every process. */
export const RATE_TABLE = "taskrt_queue_rate_windows";
/** Deduplication keys: which message holds a key, and until when it holds it whatever its state. */
export const UNIQUE_KEYS_TABLE = "taskrt_queue_unique_keys";

export const MESSAGE_STATE = {
  READY: "ready",
  LEASED: "leased",
  DEAD: "dead",
} as const;

// `seq` (the rowid) is the insertion order: unlike an implicit rowid, an INTEGER PRIMARY KEY is
// never renumbered by VACUUM. A delayed message is a ready one whose `available_at` is in the future.
// A dead row is never delivered, so its `available_at` holds when it died (set by the bury; rows
// buried before that kept their last delivery time). A retried dead row becomes ready at once.
const DDL = `
CREATE TABLE IF NOT EXISTS ${MESSAGES_TABLE} (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  queue TEXT NOT NULL,
  body TEXT NOT NULL,
  headers TEXT,
  priority INTEGER NOT NULL DEFAULT 0,
  available_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_until INTEGER,
  lease_owner TEXT,
  last_error TEXT,
  state TEXT NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'leased', 'dead')),
  created_at INTEGER NOT NULL,
  progress TEXT
);
CREATE INDEX IF NOT EXISTS ${MESSAGES_TABLE}_fetch
  ON ${MESSAGES_TABLE} (queue, state, priority DESC, available_at, seq);
CREATE TABLE IF NOT EXISTS ${QUEUE_STATE_TABLE} (
  queue TEXT PRIMARY KEY,
  paused INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ${RATE_TABLE} (
  key TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  count INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ${UNIQUE_KEYS_TABLE} (
  queue TEXT NOT NULL,
  key TEXT NOT NULL,
  message_id TEXT NOT NULL,
  held_until INTEGER NOT NULL,
  PRIMARY KEY (queue, key)
) WITHOUT ROWID;
`;

export function createSchema(connection: BetterSqlite3.Database): void {
  connection.exec(DDL);
  // Added after the table's first release: a table made by an older taskrt gets the column here.
  const columns = connection.prepare(`PRAGMA table_info(${MESSAGES_TABLE})`).all() as { name: string }[];
  if (!columns.some((column) => column.name === "progress")) connection.exec(`ALTER TABLE ${MESSAGES_TABLE} ADD COLUMN progress TEXT`);
}

/** A leased row as the fetch statement returns it. */
export interface LeasedRow {
  seq: number;
  id: string;
  body: string;
  headers: string | null;
  priority: number;
  available_at: number;
  attempts: number;
  last_error: string | null;
  created_at: number;
}

/** How a consumer settles a delivery; each has one guarded statement. */
export type SettlementKind = "ack" | "retry" | "bury" | "release";

// Every settlement is guarded by the lease owner: a consumer whose lease expired and whose message
// went to another consumer must not ack, retry or bury that other consumer's delivery. Parameters:
// ack and release (seq, lease_owner); retry and bury (available_at, last_error, seq, lease_owner),
// where a bury's available_at is the time it died.
export const SETTLEMENT_SQL: Readonly<Record<SettlementKind, string>> = {
  ack: `DELETE FROM ${MESSAGES_TABLE} WHERE seq = ? AND state = 'leased' AND lease_owner = ?`,
  retry: `UPDATE ${MESSAGES_TABLE} SET state = 'ready', available_at = ?, last_error = ?, lease_until = NULL, lease_owner = NULL
    WHERE seq = ? AND state = 'leased' AND lease_owner = ?`,
  bury: `UPDATE ${MESSAGES_TABLE} SET state = 'dead', available_at = ?, last_error = ?, lease_until = NULL, lease_owner = NULL
    WHERE seq = ? AND state = 'leased' AND lease_owner = ?`,
  release: `UPDATE ${MESSAGES_TABLE} SET state = 'ready', attempts = attempts - 1, lease_until = NULL, lease_owner = NULL
    WHERE seq = ? AND state = 'leased' AND lease_owner = ?`,
};

export const INSERT_SQL = `INSERT INTO ${MESSAGES_TABLE} (id, queue, body, headers, priority, available_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`;

/**
 * (queue, key) → the message holding the key, when it is still waiting (ready or delayed), and the
 * end of the key's window. A key is held while its message waits or until `held_until`.
 */
export const FIND_KEY_SQL = `SELECT k.message_id, k.held_until, m.state FROM ${UNIQUE_KEYS_TABLE} k
  LEFT JOIN ${MESSAGES_TABLE} m ON m.id = k.message_id
  WHERE k.queue = ? AND k.key = ?`;

/** (queue, key, message_id, held_until) */
export const HOLD_KEY_SQL = `INSERT INTO ${UNIQUE_KEYS_TABLE} (queue, key, message_id, held_until) VALUES (?, ?, ?, ?)
  ON CONFLICT (queue, key) DO UPDATE SET message_id = excluded.message_id, held_until = excluded.held_until`;

export interface KeyRow {
  message_id: string;
  held_until: number;
  state: string | null;
}

/** Does the key row still hold its key at `now`? */
export function keyHeld(row: KeyRow | undefined, now: number): row is KeyRow {
  return row !== undefined && (row.held_until > now || row.state === MESSAGE_STATE.READY);
}

/** (available_at, queue, id): a dead message is ready again at once with no attempts counted; its last error stays. */
export const RETRY_DEAD_SQL = `UPDATE ${MESSAGES_TABLE} SET state = 'ready', attempts = 0, available_at = ?, lease_until = NULL, lease_owner = NULL
  WHERE queue = ? AND id = ? AND state = 'dead'`;

/** (queue, id) */
export const DISCARD_DEAD_SQL = `DELETE FROM ${MESSAGES_TABLE} WHERE queue = ? AND id = ? AND state = 'dead'`;

/** (progress JSON, seq, lease_owner): only the consumer holding the lease reports. */
export const PROGRESS_SQL = `UPDATE ${MESSAGES_TABLE} SET progress = ? WHERE seq = ? AND state = 'leased' AND lease_owner = ?`;

/** A message row as an operator browses it. */
export interface BrowseRow {
  id: string;
  body: string;
  headers: string | null;
  priority: number;
  attempts: number;
  available_at: number;
  lease_until: number | null;
  last_error: string | null;
  created_at: number;
  progress: string | null;
}

export const BROWSE_COLUMNS = "id, body, headers, priority, attempts, available_at, lease_until, last_error, created_at, progress";

/** A dead row as the listing returns it; `available_at` is when it died. */
export interface DeadRow {
  id: string;
  body: string;
  headers: string | null;
  attempts: number;
  last_error: string | null;
  available_at: number;
  created_at: number;
}

export interface QueueStatements {
  /** (id, queue, body, headers, priority, available_at, created_at) */
  insert: BetterSqlite3.Statement<[string, string, string, string | null, number, number, number]>;
  /** (lease_until, lease_owner, queue, now, limit) → LeasedRow[], in no particular order. */
  lease: BetterSqlite3.Statement<[number, string, string, number, number], LeasedRow>;
  /** (queue, now): expired leases become ready again; the attempt they used stays counted, and the last error says why. */
  reclaim: BetterSqlite3.Statement<[string, number]>;
  /** (lease_until, JSON array of seq, lease_owner): extends the leases of a consumer's unsettled deliveries. */
  extend: BetterSqlite3.Statement<[number, string, string]>;
  settle: Readonly<Record<SettlementKind, BetterSqlite3.Statement<unknown[]>>>;
  /** (queue, lease_owner GLOB pattern): a stopping driver hands back what its consumers still hold. */
  releaseOwned: BetterSqlite3.Statement<[string, string]>;
  /** (queue) → the owner processes (the part of `lease_owner` before "/") holding leases in the queue. */
  leaseHolders: BetterSqlite3.Statement<[string], { owner: string }>;
  /** (queue, lease_owner GLOB pattern): a dead process's leases become ready again, as expired leases do. */
  reclaimFromDead: BetterSqlite3.Statement<[string, string]>;
  /** (queue, now) → the earliest time a delayed message becomes deliverable. */
  nextAvailable: BetterSqlite3.Statement<[string, number], { next: number | null }>;
  /** (queue, limit, offset) → the queue's dead rows, the last to die first. */
  listDead: BetterSqlite3.Statement<[string, number, number], DeadRow>;
  /** (queue) */
  countDead: BetterSqlite3.Statement<[string], { total: number }>;
  retryDead: BetterSqlite3.Statement<[number, string, string]>;
  discardDead: BetterSqlite3.Statement<[string, string]>;
  setProgress: BetterSqlite3.Statement<[string, number, string]>;
  /** (queue, now, limit, offset) → leased rows whose lease holds, the earliest leased first. */
  listInFlight: BetterSqlite3.Statement<[string, number, number, number], BrowseRow>;
  countInFlight: BetterSqlite3.Statement<[string, number], { total: number }>;
  /** (queue, died before): dead rows older than the retention's max_age. */
  pruneDeadByAge: BetterSqlite3.Statement<[string, number]>;
  /** (queue, queue, keep): all but the newest `keep` dead rows. */
  pruneDeadByCount: BetterSqlite3.Statement<[string, string, number]>;
  /** (key) → the key's current window and its count. */
  rateWindow: BetterSqlite3.Statement<[string], { window_start: number; count: number }>;
  /** (key, window_start, count) */
  setRateWindow: BetterSqlite3.Statement<[string, number, number]>;
  /** (now, queue, id): a waiting or delayed message is deliverable at once, ahead of its priority's line. */
  promote: BetterSqlite3.Statement<[string, string]>;
  /** (queue, id): a waiting or delayed message is deleted unprocessed. */
  remove: BetterSqlite3.Statement<[string, string]>;
  /** (queue): every waiting and delayed message goes. */
  purge: BetterSqlite3.Statement<[string]>;
  findKey: BetterSqlite3.Statement<[string, string], KeyRow>;
  holdKey: BetterSqlite3.Statement<[string, string, string, number]>;
  /** (queue, now): keys whose window passed and whose message no longer waits; they hold nothing. */
  releaseKeys: BetterSqlite3.Statement<[string, number]>;
  /** (queue, paused 0 or 1) */
  setPaused: BetterSqlite3.Statement<[string, number]>;
  /** (queue) → { paused } or nothing when the queue was never paused. */
  isPaused: BetterSqlite3.Statement<[string], { paused: number }>;
  /** (now, now, now, now, queue) */
  stats: BetterSqlite3.Statement<[number, number, number, number, string], StatsRow>;
}

export interface StatsRow {
  ready: number | null;
  in_flight: number | null;
  delayed: number | null;
  dead: number | null;
}

export function prepareStatements(connection: BetterSqlite3.Database): QueueStatements {
  const table = MESSAGES_TABLE;
  return {
    insert: connection.prepare(INSERT_SQL),
    // The subquery walks the fetch index in delivery order and stops at the limit; the outer
    // UPDATE leases exactly those rows in the same statement, so two fetchers never share one.
    lease: connection.prepare(
      `UPDATE ${table} SET state = 'leased', lease_until = ?, lease_owner = ?, attempts = attempts + 1, progress = NULL
       WHERE seq IN (
         SELECT seq FROM ${table}
         WHERE queue = ? AND state = 'ready' AND available_at <= ?
         ORDER BY priority DESC, available_at, seq
         LIMIT ?
       )
       RETURNING seq, id, body, headers, priority, available_at, attempts, last_error, created_at`,
    ),
    reclaim: connection.prepare(
      `UPDATE ${table} SET state = 'ready', lease_until = NULL, lease_owner = NULL,
         last_error = 'lease expired before the message was settled'
       WHERE queue = ? AND state = 'leased' AND lease_until < ?`,
    ),
    extend: connection.prepare(
      `UPDATE ${table} SET lease_until = ?
       WHERE seq IN (SELECT value FROM json_each(?)) AND state = 'leased' AND lease_owner = ?`,
    ),
    settle: {
      ack: connection.prepare(SETTLEMENT_SQL.ack),
      retry: connection.prepare(SETTLEMENT_SQL.retry),
      bury: connection.prepare(SETTLEMENT_SQL.bury),
      release: connection.prepare(SETTLEMENT_SQL.release),
    },
    releaseOwned: connection.prepare(
      `UPDATE ${table} SET state = 'ready', attempts = attempts - 1, lease_until = NULL, lease_owner = NULL
       WHERE queue = ? AND state = 'leased' AND lease_owner GLOB ?`,
    ),
    // Walks the fetch index's (queue, state) prefix: only the queue's leased rows are read.
    leaseHolders: connection.prepare(
      `SELECT DISTINCT substr(lease_owner, 1, instr(lease_owner, '/') - 1) AS owner FROM ${table}
       WHERE queue = ? AND state = 'leased' AND instr(lease_owner, '/') > 1`,
    ),
    reclaimFromDead: connection.prepare(
      `UPDATE ${table} SET state = 'ready', lease_until = NULL, lease_owner = NULL,
         last_error = 'the process that held the lease died before the message was settled'
       WHERE queue = ? AND state = 'leased' AND lease_owner GLOB ?`,
    ),
    nextAvailable: connection.prepare(
      `SELECT MIN(available_at) AS next FROM ${table} WHERE queue = ? AND state = 'ready' AND available_at > ?`,
    ),
    listDead: connection.prepare(
      `SELECT id, body, headers, attempts, last_error, available_at, created_at FROM ${table}
       WHERE queue = ? AND state = 'dead'
       ORDER BY available_at DESC, seq DESC
       LIMIT ? OFFSET ?`,
    ),
    countDead: connection.prepare(`SELECT COUNT(*) AS total FROM ${table} WHERE queue = ? AND state = 'dead'`),
    retryDead: connection.prepare(RETRY_DEAD_SQL),
    setProgress: connection.prepare(PROGRESS_SQL),
    listInFlight: connection.prepare(
      `SELECT ${BROWSE_COLUMNS} FROM ${table} WHERE queue = ? AND state = 'leased' AND lease_until >= ? ORDER BY seq LIMIT ? OFFSET ?`,
    ),
    countInFlight: connection.prepare(`SELECT COUNT(*) AS total FROM ${table} WHERE queue = ? AND state = 'leased' AND lease_until >= ?`),
    pruneDeadByAge: connection.prepare(`DELETE FROM ${table} WHERE queue = ? AND state = 'dead' AND available_at < ?`),
    pruneDeadByCount: connection.prepare(
      `DELETE FROM ${table} WHERE queue = ? AND state = 'dead' AND seq NOT IN (
         SELECT seq FROM ${table} WHERE queue = ? AND state = 'dead' ORDER BY available_at DESC, seq DESC LIMIT ?)`,
    ),
    rateWindow: connection.prepare(`SELECT window_start, count FROM ${RATE_TABLE} WHERE key = ?`),
    setRateWindow: connection.prepare(
      `INSERT INTO ${RATE_TABLE} (key, window_start, count) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET window_start = excluded.window_start, count = excluded.count`,
    ),
    promote: connection.prepare(`UPDATE ${table} SET available_at = 0 WHERE queue = ? AND id = ? AND state = 'ready'`),
    remove: connection.prepare(`DELETE FROM ${table} WHERE queue = ? AND id = ? AND state = 'ready'`),
    purge: connection.prepare(`DELETE FROM ${table} WHERE queue = ? AND state = 'ready'`),
    findKey: connection.prepare(FIND_KEY_SQL),
    holdKey: connection.prepare(HOLD_KEY_SQL),
    releaseKeys: connection.prepare(
      `DELETE FROM ${UNIQUE_KEYS_TABLE} WHERE queue = ? AND held_until <= ?
       AND NOT EXISTS (SELECT 1 FROM ${table} m WHERE m.id = message_id AND m.state = 'ready')`,
    ),
    setPaused: connection.prepare(
      `INSERT INTO ${QUEUE_STATE_TABLE} (queue, paused) VALUES (?, ?) ON CONFLICT (queue) DO UPDATE SET paused = excluded.paused`,
    ),
    isPaused: connection.prepare(`SELECT paused FROM ${QUEUE_STATE_TABLE} WHERE queue = ?`),
    discardDead: connection.prepare(DISCARD_DEAD_SQL),
    stats: connection.prepare(
      `SELECT
         SUM(CASE WHEN (state = 'ready' AND available_at <= ?) OR (state = 'leased' AND lease_until < ?) THEN 1 ELSE 0 END) AS ready,
         SUM(CASE WHEN state = 'leased' AND lease_until >= ? THEN 1 ELSE 0 END) AS in_flight,
         SUM(CASE WHEN state = 'ready' AND available_at > ? THEN 1 ELSE 0 END) AS delayed,
         SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) AS dead
       FROM ${table} WHERE queue = ?`,
    ),
  };
}
