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

function parseJson(text: unknown): unknown {
  return typeof text === "string" ? JSON.parse(text) : (text ?? null);
}

/** Database and queue failures that mean "try again later" rather than "your request is wrong". */
export function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === "E_DB_UNAVAILABLE" || code === "E_SQL" || code === "E_QUEUE_UNAVAILABLE" || code === "E_QUEUE_STORAGE" || code === "E_QUEUE_STOPPED" || code === "E_QUEUE_FULL";
}
