/** The task record shared by the app's handlers: its statuses, its row, and how a row is shown. */

export const TASK_STATUSES = ["queued", "running", "completed", "failed"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** The message a queued task travels as (also kept as the row's payload). */
export interface Task {
  id: string;
  action: string;
  data: Record<string, unknown>;
  /** Unix milliseconds. */
  created_at: number;
}

export const TASK_COLUMNS = ["id", "action", "payload", "status", "result", "error", "attempts", "created_at", "updated_at", "processed_at"] as const;

/** A row as the API returns it: payload and result as JSON values, not strings. */
export function presentTask(row: Record<string, unknown>): Record<string, unknown> {
  return {
    id: row.id,
    action: row.action,
    status: row.status,
    payload: parseJson(row.payload),
    result: parseJson(row.result),
    error: row.error ?? null,
    attempts: row.attempts,
    created_at: row.created_at,
    updated_at: row.updated_at,
    processed_at: row.processed_at ?? null,
  };
}

/**
 * The same task as `JSON.stringify(presentTask(row))`, but payload and result go out as stored:
 * they are JSON text this app wrote (JSON.stringify), so a list of tasks costs no parse and
 * re-serialise of every payload. Keys in presentTask's order.
 */
export function taskJson(row: Record<string, unknown>): string {
  return (
    `{"id":${JSON.stringify(row.id)},"action":${JSON.stringify(row.action)},"status":${JSON.stringify(row.status)}` +
    `,"payload":${storedJson(row.payload)},"result":${storedJson(row.result)},"error":${JSON.stringify(row.error ?? null)}` +
    `,"attempts":${numberJson(row.attempts)},"created_at":${numberJson(row.created_at)},"updated_at":${numberJson(row.updated_at)}` +
    `,"processed_at":${numberJson(row.processed_at)}}`
  );
}

function storedJson(text: unknown): string {
  return typeof text === "string" ? text : JSON.stringify(text ?? null);
}

function numberJson(value: unknown): string {
  return typeof value === "number" && Number.isFinite(value) ? String(value) : JSON.stringify(value ?? null);
}

function parseJson(text: unknown): unknown {
  return typeof text === "string" ? JSON.parse(text) : (text ?? null);
}

/** Database and queue failures that mean "try again later" rather than "your request is wrong". */
export function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === "E_DB_UNAVAILABLE" || code === "E_SQL" || code === "E_QUEUE_UNAVAILABLE" || code === "E_QUEUE_STORAGE" || code === "E_QUEUE_STOPPED" || code === "E_QUEUE_FULL";
}
