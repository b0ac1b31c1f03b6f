/**
 * The request-layer handlers of bench/request-layers.ts: each does what the one before it does and
 * one more step of app/create_task.ts, so the difference between two of them is that step's cost.
 */
import { http, sql, uuid } from "taskrt";

const ANSWER = { id: "01890000-0000-7000-8000-000000000000", status: "queued" };

/** Dispatch, call context, handler invocation and response serialisation: no body read. */
export async function answer(): Promise<void> {
  http.response().setStatus(http.STATUS.ACCEPTED).writeJson(ANSWER);
}

/** + the body read and parsed, and the app's field checks. */
export async function body(): Promise<void> {
  const fields = await parsedFields();
  if (typeof fields.action !== "string") return badRequest();
  http.response().setStatus(http.STATUS.ACCEPTED).writeJson(ANSWER);
}

/** + the task built as the app builds it: a UUIDv7 and its JSON payload. */
export async function task(): Promise<void> {
  const fields = await parsedFields();
  if (typeof fields.action !== "string") return badRequest();
  const now = Date.now();
  const built = { id: uuid.v7(), action: fields.action, data: fields.data ?? {}, created_at: now };
  const payload = JSON.stringify(built);
  if (payload.length === 0) return badRequest();
  http.response().setStatus(http.STATUS.ACCEPTED).writeJson({ id: built.id, status: "queued" });
}

/** + the INSERT inside a transaction (group commit), as the app's but without the publish. */
export async function insert(): Promise<void> {
  const fields = await parsedFields();
  if (typeof fields.action !== "string") return badRequest();
  const now = Date.now();
  const built = { id: uuid.v7(), action: fields.action, data: fields.data ?? {}, created_at: now };
  const payload = JSON.stringify(built);
  const db = await sql.get("app:db");
  try {
    await db.transaction(async (tx) => {
      await tx.execute("INSERT INTO tasks (id, action, payload, status, attempts, created_at, updated_at) VALUES (?, ?, ?, 'queued', 0, ?, ?)", [
        built.id,
        built.action,
        payload,
        now,
        now,
      ]);
    });
  } finally {
    db.release();
  }
  http.response().setStatus(http.STATUS.ACCEPTED).writeJson({ id: built.id, status: "queued" });
}

async function parsedFields(): Promise<Record<string, unknown>> {
  const parsed: unknown = await http.request().bodyJson();
  return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
}

function badRequest(): void {
  http.response().setStatus(http.STATUS.BAD_REQUEST).writeJson({ error: "action required" });
}
