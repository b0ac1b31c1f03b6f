/**
 * GET /tasks[?status=&limit=&cursor=] — newest first, in pages. `next_cursor` continues after the
 * last task of this page (null on the last page); it stays valid while tasks are being added.
 */
import { http, sql } from "taskrt";
import { TASK_COLUMNS, TASK_STATUSES, presentTask } from "./tasks.ts";

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

export async function handler(): Promise<void> {
  const request = http.request();
  const response = http.response();
  const status = request.query("status");
  const limitText = request.query("limit");
  const cursor = request.query("cursor");

  if (status !== undefined && !(TASK_STATUSES as readonly string[]).includes(status)) {
    response.setStatus(http.STATUS.BAD_REQUEST).writeJson({ error: `unknown status '${status}'`, valid: TASK_STATUSES });
    return;
  }
  const limit = limitText === undefined ? DEFAULT_LIMIT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    response.setStatus(http.STATUS.BAD_REQUEST).writeJson({ error: `limit must be a whole number from 1 to ${MAX_LIMIT}` });
    return;
  }
  const after = cursor === undefined ? undefined : decodeCursor(cursor);
  if (after === null) {
    response.setStatus(http.STATUS.BAD_REQUEST).writeJson({ error: "invalid cursor" });
    return;
  }

  let query = sql.builder.select(...TASK_COLUMNS).from("tasks").orderBy("id DESC").limit(limit + 1);
  if (status) query = query.where({ status });
  if (after) query = query.where("id < ?", after);

  const db = await sql.get("app:db");
  try {
    const rows = await query.runWith(db).query();
    const page = rows.slice(0, limit);
    const next = rows.length > limit ? encodeCursor(String(page[page.length - 1].id)) : null;
    response.setStatus(http.STATUS.OK).writeJson({ tasks: page.map(presentTask), count: page.length, next_cursor: next });
  } finally {
    db.release();
  }
}

function encodeCursor(id: string): string {
  return Buffer.from(id).toString("base64url");
}

/** The id a cursor continues after, or null when it is not one of ours. */
function decodeCursor(cursor: string): string | null {
  const id = Buffer.from(cursor, "base64url").toString();
  return /^[0-9a-f-]{36}$/.test(id) ? id : null;
}
