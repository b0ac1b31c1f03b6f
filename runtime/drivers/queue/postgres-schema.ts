/**
 * @module drivers/queue/postgres-schema — the PostgreSQL queue's table, its fetch index, and every
 * statement the driver runs (`?` placeholders; arrays travel as JSON text, as the SQL driver binds them).
 */

/** Prefixed so the queue can live in the application's own schema without clashing; the same name as on SQLite. */
export const MESSAGES_TABLE = "taskrt_queue_messages";

/** Per-queue settings every process sharing the table obeys: paused or not. The same names as on SQLite. */
export const QUEUE_STATE_TABLE = "taskrt_queue_state";
/** Rate-limit windows: deliveries counted per key in the current window, shared by every process. */
export const RATE_TABLE = "taskrt_queue_rate_windows";
/** Deduplication keys: which message holds a key, and until when it holds it whatever its state. */
export const UNIQUE_KEYS_TABLE = "taskrt_queue_unique_keys";

/** The first key of every lease owner's session advisory lock: "task" in ASCII. */
export const OWNER_LOCK_CLASS = 1952543595;

// As on SQLite: a delayed message is a ready one whose available_at (epoch ms) is in the future; a
// dead row's available_at is when it died. lease_owner is `<owner lock key>/<driver>:<consumer>`:
// while the process lives, its dedicated connection holds the advisory lock (OWNER_LOCK_CLASS, key).
// The partial index holds only deliverable rows, so claims never walk leased or dead ones.
export const DDL = `
CREATE TABLE IF NOT EXISTS ${MESSAGES_TABLE} (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  queue TEXT NOT NULL,
  body TEXT NOT NULL,
  headers TEXT,
  priority INTEGER NOT NULL DEFAULT 0,
  available_at BIGINT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_until BIGINT,
  lease_owner TEXT,
  last_error TEXT,
  state TEXT NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'leased', 'dead')),
  created_at BIGINT NOT NULL
);
-- Added after the table's first release: a table made by an older taskrt gets it here.
ALTER TABLE ${MESSAGES_TABLE} ADD COLUMN IF NOT EXISTS progress TEXT;
CREATE TABLE IF NOT EXISTS ${QUEUE_STATE_TABLE} (
  queue TEXT PRIMARY KEY,
  paused BOOLEAN NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS ${RATE_TABLE} (
  key TEXT PRIMARY KEY,
  window_start BIGINT NOT NULL,
  count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ${UNIQUE_KEYS_TABLE} (
  queue TEXT NOT NULL,
  key TEXT NOT NULL,
  message_id TEXT NOT NULL,
  held_until BIGINT NOT NULL,
  PRIMARY KEY (queue, key)
);
CREATE INDEX IF NOT EXISTS ${MESSAGES_TABLE}_ready
  ON ${MESSAGES_TABLE} (queue, priority DESC, available_at, seq) WHERE state = 'ready';
CREATE INDEX IF NOT EXISTS ${MESSAGES_TABLE}_leased
  ON ${MESSAGES_TABLE} (queue, lease_until) WHERE state = 'leased';
CREATE INDEX IF NOT EXISTS ${MESSAGES_TABLE}_dead
  ON ${MESSAGES_TABLE} (queue, available_at DESC, seq DESC) WHERE state = 'dead';
`;

/** (channel, JSON array of {id, queue, body, headers, priority, available_at, created_at}): inserts and tells every listener which queues got messages. */
export const INSERT_SQL = `WITH inserted AS (
  INSERT INTO ${MESSAGES_TABLE} (id, queue, body, headers, priority, available_at, created_at)
  SELECT id, queue, body, headers, priority, available_at, created_at
  FROM json_to_recordset(?::json) AS m(id text, queue text, body text, headers text, priority integer, available_at bigint, created_at bigint)
  RETURNING queue
)
SELECT pg_notify(?, queue) FROM (SELECT DISTINCT queue FROM inserted) AS queues`;

/**
 * (JSON array of {seq, owner, kind, available_at, error}) → one row per settlement that found its
 * message still leased to its consumer. Guarded by the lease owner, as on SQLite: a consumer whose
 * lease expired must not settle the delivery another consumer now holds. Release counts no attempt.
 */
export const SETTLE_SQL = `WITH s AS (
  SELECT * FROM json_to_recordset(?::json) AS s(seq bigint, owner text, kind text, available_at bigint, error text)
),
acked AS (
  DELETE FROM ${MESSAGES_TABLE} AS m USING s
  WHERE s.kind = 'ack' AND m.seq = s.seq AND m.state = 'leased' AND m.lease_owner = s.owner
  RETURNING m.seq
),
changed AS (
  UPDATE ${MESSAGES_TABLE} AS m SET
    state = CASE s.kind WHEN 'bury' THEN 'dead' ELSE 'ready' END,
    available_at = CASE s.kind WHEN 'release' THEN m.available_at ELSE s.available_at END,
    attempts = CASE s.kind WHEN 'release' THEN m.attempts - 1 ELSE m.attempts END,
    last_error = CASE s.kind WHEN 'release' THEN m.last_error ELSE s.error END,
    lease_until = NULL, lease_owner = NULL
  FROM s
  WHERE s.kind <> 'ack' AND m.seq = s.seq AND m.state = 'leased' AND m.lease_owner = s.owner
  RETURNING m.seq
)
SELECT seq FROM acked UNION ALL SELECT seq FROM changed`;

/** A paused queue leases nothing: the condition every claim carries (the queue's name is the row's). */
const NOT_PAUSED = `NOT EXISTS (SELECT 1 FROM ${QUEUE_STATE_TABLE} AS p WHERE p.queue = ${MESSAGES_TABLE}.queue AND p.paused)`;

/**
 * (lease_until, lease_owner, queue, now, limit): leases the next deliverable messages in delivery
 * order. SKIP LOCKED: rows another process is claiming right now are passed over, not waited for.
 */
export const LEASE_SQL = `UPDATE ${MESSAGES_TABLE} SET state = 'leased', lease_until = ?, lease_owner = ?, attempts = attempts + 1, progress = NULL
WHERE seq IN (
  SELECT seq FROM ${MESSAGES_TABLE}
  WHERE queue = ? AND state = 'ready' AND available_at <= ? AND ${NOT_PAUSED}
  ORDER BY priority DESC, available_at, seq
  LIMIT ?
  FOR UPDATE SKIP LOCKED
)
RETURNING seq, id, body, headers, priority, available_at, attempts, last_error, created_at`;

/** (queue, now) → the earliest time a delayed message becomes deliverable; none while the queue is paused (a resume wakes its consumers). */
export const NEXT_AVAILABLE_SQL = `SELECT MIN(available_at) AS next FROM ${MESSAGES_TABLE} WHERE queue = ? AND state = 'ready' AND available_at > ? AND ${NOT_PAUSED}`;

/** (lease_until, JSON array of seq, lease_owner): extends the leases of a consumer's unsettled deliveries. */
export const EXTEND_SQL = `UPDATE ${MESSAGES_TABLE} SET lease_until = ?
WHERE seq IN (SELECT value::bigint FROM json_array_elements_text(?::json)) AND state = 'leased' AND lease_owner = ?`;

/** (queue, now): expired leases become ready again; the attempt they used stays counted. */
export const RECLAIM_EXPIRED_SQL = `UPDATE ${MESSAGES_TABLE} SET state = 'ready', lease_until = NULL, lease_owner = NULL,
  last_error = 'lease expired before the message was settled'
WHERE queue = ? AND state = 'leased' AND lease_until < ?`;

/**
 * (queue): leases whose owner's advisory lock nobody holds (its process died, or lost its
 * connection) become ready again at once. Owners without a lock key are left to expire.
 */
export const RECLAIM_FROM_DEAD_SQL = `UPDATE ${MESSAGES_TABLE} AS m SET state = 'ready', lease_until = NULL, lease_owner = NULL,
  last_error = 'the process that held the lease died before the message was settled'
WHERE m.queue = ? AND m.state = 'leased' AND m.lease_owner ~ '^[0-9]+/'
  AND NOT EXISTS (
    SELECT 1 FROM pg_locks AS l
    WHERE l.locktype = 'advisory' AND l.granted AND l.classid = ${OWNER_LOCK_CLASS}::oid AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.objid::text = split_part(m.lease_owner, '/', 1)
  )`;

/** (queue, lease_owner LIKE pattern): a stopping driver hands back what its consumers still hold, no attempt counted. */
export const RELEASE_OWNED_SQL = `UPDATE ${MESSAGES_TABLE} SET state = 'ready', attempts = attempts - 1, lease_until = NULL, lease_owner = NULL
WHERE queue = ? AND state = 'leased' AND lease_owner LIKE ?`;

/** (now, now, now, now, queue) */
export const STATS_SQL = `SELECT
  COUNT(*) FILTER (WHERE (state = 'ready' AND available_at <= ?) OR (state = 'leased' AND lease_until < ?)) AS ready,
  COUNT(*) FILTER (WHERE state = 'leased' AND lease_until >= ?) AS in_flight,
  COUNT(*) FILTER (WHERE state = 'ready' AND available_at > ?) AS delayed,
  COUNT(*) FILTER (WHERE state = 'dead') AS dead
FROM ${MESSAGES_TABLE} WHERE queue = ?`;

/** (queue, limit, offset) → the queue's dead rows, the last to die first. */
export const LIST_DEAD_SQL = `SELECT id, body, headers, attempts, last_error, available_at, created_at FROM ${MESSAGES_TABLE}
WHERE queue = ? AND state = 'dead'
ORDER BY available_at DESC, seq DESC
LIMIT ? OFFSET ?`;

export const COUNT_DEAD_SQL = `SELECT COUNT(*) AS total FROM ${MESSAGES_TABLE} WHERE queue = ? AND state = 'dead'`;

/** (available_at, queue, id, channel): ready again at once with no attempts counted; listeners are told. */
export const RETRY_DEAD_SQL = `WITH retried AS (
  UPDATE ${MESSAGES_TABLE} SET state = 'ready', attempts = 0, available_at = ?, lease_until = NULL, lease_owner = NULL
  WHERE queue = ? AND id = ? AND state = 'dead'
  RETURNING queue
)
SELECT pg_notify(?, queue) FROM retried`;

/** (queue, id) */
export const DISCARD_DEAD_SQL = `DELETE FROM ${MESSAGES_TABLE} WHERE queue = ? AND id = ? AND state = 'dead'`;

/** (progress JSON, seq, lease_owner): only the consumer holding the lease reports. */
export const PROGRESS_SQL = `UPDATE ${MESSAGES_TABLE} SET progress = ? WHERE seq = ? AND state = 'leased' AND lease_owner = ?`;

export const BROWSE_COLUMNS = "id, body, headers, priority, attempts, available_at, lease_until, last_error, created_at, progress";

/** (queue, now, limit, offset) → leased rows whose lease holds, the earliest leased first. */
export const LIST_IN_FLIGHT_SQL = `SELECT ${BROWSE_COLUMNS} FROM ${MESSAGES_TABLE} WHERE queue = ? AND state = 'leased' AND lease_until >= ? ORDER BY seq LIMIT ? OFFSET ?`;

/** (queue, now) */
export const COUNT_IN_FLIGHT_SQL = `SELECT COUNT(*) AS total FROM ${MESSAGES_TABLE} WHERE queue = ? AND state = 'leased' AND lease_until >= ?`;

/** (queue, paused, channel): every process's claims obey it at once; a resume tells listeners, so their consumers fetch now. */
export const SET_PAUSED_SQL = `WITH saved AS (
  INSERT INTO ${QUEUE_STATE_TABLE} (queue, paused) VALUES (?, ?)
  ON CONFLICT (queue) DO UPDATE SET paused = excluded.paused
  RETURNING queue, paused
)
SELECT pg_notify(?, queue) FROM saved WHERE NOT paused`;

/** (queue) → { paused } or nothing when the queue was never paused. */
export const IS_PAUSED_SQL = `SELECT paused FROM ${QUEUE_STATE_TABLE} WHERE queue = ?`;

/** (channel, queue, id): a waiting or delayed message is deliverable at once, ahead of its priority's line; listeners are told. */
export const PROMOTE_SQL = `WITH promoted AS (
  UPDATE ${MESSAGES_TABLE} SET available_at = 0 WHERE queue = ? AND id = ? AND state = 'ready'
  RETURNING queue
)
SELECT pg_notify(?, queue) FROM promoted`;

/** (queue, id): a waiting or delayed message is deleted unprocessed. */
export const REMOVE_SQL = `DELETE FROM ${MESSAGES_TABLE} WHERE queue = ? AND id = ? AND state = 'ready'`;

/** (queue): every waiting and delayed message goes. */
export const PURGE_SQL = `DELETE FROM ${MESSAGES_TABLE} WHERE queue = ? AND state = 'ready'`;

/** (queue, died before): dead rows older than the retention's max_age. */
export const PRUNE_DEAD_BY_AGE_SQL = `DELETE FROM ${MESSAGES_TABLE} WHERE queue = ? AND state = 'dead' AND available_at < ?`;

/** (queue, queue, keep): all but the newest `keep` dead rows. */
export const PRUNE_DEAD_BY_COUNT_SQL = `DELETE FROM ${MESSAGES_TABLE} WHERE queue = ? AND state = 'dead' AND seq NOT IN (
  SELECT seq FROM ${MESSAGES_TABLE} WHERE queue = ? AND state = 'dead' ORDER BY available_at DESC, seq DESC LIMIT ?)`;

/** (queue, now): keys whose window passed and whose message no longer waits; they hold nothing. */
export const RELEASE_KEYS_SQL = `DELETE FROM ${UNIQUE_KEYS_TABLE} AS k WHERE k.queue = ? AND k.held_until <= ?
  AND NOT EXISTS (SELECT 1 FROM ${MESSAGES_TABLE} AS m WHERE m.id = k.message_id AND m.state = 'ready')`;

/** Waiting (deliverable now) or delayed messages of a queue, by publish order: (queue, now, limit, offset). */
export function browseSql(state: "waiting" | "delayed", order: "newest" | "oldest"): { list: string; count: string } {
  const where = `FROM ${MESSAGES_TABLE} WHERE queue = ? AND state = 'ready' AND available_at ${state === "waiting" ? "<=" : ">"} ?`;
  return { list: `SELECT ${BROWSE_COLUMNS} ${where} ORDER BY seq ${order === "newest" ? "DESC" : "ASC"} LIMIT ? OFFSET ?`, count: `SELECT COUNT(*) AS total ${where}` };
}

/**
 * (queue, key, message_id, held_until) → a row when the key was free and is now taken. When another
 * transaction is taking the same key, this waits for it to end (the primary key's check), so two
 * processes never both see it free.
 */
export const TAKE_FREE_KEY_SQL = `INSERT INTO ${UNIQUE_KEYS_TABLE} (queue, key, message_id, held_until) VALUES (?, ?, ?, ?)
ON CONFLICT (queue, key) DO NOTHING RETURNING message_id`;

/** (queue, key) → the key's holder, locked until the publish's transaction ends, with its message's state (none once it is gone). */
export const LOCK_KEY_SQL = `SELECT k.message_id, k.held_until, m.state FROM ${UNIQUE_KEYS_TABLE} AS k
LEFT JOIN ${MESSAGES_TABLE} AS m ON m.id = k.message_id
WHERE k.queue = ? AND k.key = ? FOR UPDATE OF k`;

/** (message_id, held_until, queue, key): a key that holds nothing any more goes to a new message. */
export const RETAKE_KEY_SQL = `UPDATE ${UNIQUE_KEYS_TABLE} SET message_id = ?, held_until = ? WHERE queue = ? AND key = ?`;

/**
 * (JSON array of keys, sorted) → each key's window, its row locked until the claim's transaction
 * ends: processes claiming under one key count one after another, never both from the same count.
 * A key seen for the first time starts with an empty window.
 */
export const LOCK_RATE_WINDOWS_SQL = `INSERT INTO ${RATE_TABLE} (key, window_start, count)
SELECT value, 0, 0 FROM json_array_elements_text(?::json) AS keys(value) ORDER BY value
ON CONFLICT (key) DO UPDATE SET key = excluded.key
RETURNING key, window_start, count`;

/** (JSON array of {key, window_start, count}): the windows as the claim left them. */
export const SAVE_RATE_WINDOWS_SQL = `UPDATE ${RATE_TABLE} AS r SET window_start = w.window_start, count = w.count
FROM json_to_recordset(?::json) AS w(key text, window_start bigint, count integer)
WHERE r.key = w.key`;
