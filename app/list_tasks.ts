/**
 * GET /tasks[?status=&limit=&cursor=] — newest first, in pages. `next_cursor` continues after the
 * last task of this page (null on the last page); it stays valid while tasks are being added.
 *
 * A page also stops at about PAGE_BYTES of task data, whatever `limit` asks, so one request can
 * never build (or make the database hand over) hundreds of megabytes: the sizes are read first,
 * then only the rows that fit. It holds at least one task, so following the cursor always progresses.
 */
import { http, sql } from "taskrt";
import { TASK_COLUMNS, TASK_STATUSES, taskJson } from "./tasks.ts";

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
/** Task data per page at most (payload, result and error as stored); the rest follows the cursor. */
export const PAGE_BYTES = 2 * 1024 * 1024;
/** Allowance per task for its other fields and the JSON around them. */
const ROW_OVERHEAD = 256;

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

  let sizes = sql.builder.select("id", "LENGTH(payload) AS payload_size", "LENGTH(result) AS result_size", "LENGTH(error) AS error_size").from("tasks");
  let rows = sql.builder.select(...TASK_COLUMNS).from("tasks");
  if (status) {
    sizes = sizes.where({ status });
    rows = rows.where({ status });
  }
  if (after) {
    sizes = sizes.where("id < ?", after);
    rows = rows.where("id < ?", after);
  }

  const db = await sql.get("app:db");
  try {
    const candidates = await sizes.orderBy("id DESC").limit(limit + 1).runWith(db).query();
    const fits = countWithinBudget(candidates.slice(0, limit));
    // Newer tasks may have arrived since: bound the page below by the last id that fits.
    const page = fits === 0 ? [] : await rows.where("id >= ?", candidates[fits - 1].id).orderBy("id DESC").limit(fits).runWith(db).query();
    const last = page.length > 0 ? String(page[page.length - 1].id) : undefined;
    // More follow when the sizes saw more, or when newer tasks pushed some of those that fit out.
    const more = last !== undefined && (candidates.length > fits || last !== candidates[fits - 1].id);
    const next = more ? encodeCursor(last) : null;
    // Written by hand around each task's stored JSON (see taskJson): no parse and re-serialise.
    response
      .setStatus(http.STATUS.OK)
      .setContentType(http.CONTENT.JSON)
      .write(`{"tasks":[${page.map(taskJson).join(",")}],"count":${page.length},"next_cursor":${JSON.stringify(next)}}`);
  } finally {
    db.release();
  }
}

/** How many of the first rows fit in PAGE_BYTES; at least one when there is any. */
function countWithinBudget(candidates: readonly Record<string, unknown>[]): number {
  let bytes = 0;
  for (let index = 0; index < candidates.length; index++) {
    const row = candidates[index];
    bytes += ROW_OVERHEAD + Number(row.payload_size ?? 0) + Number(row.result_size ?? 0) + Number(row.error_size ?? 0);
    if (bytes > PAGE_BYTES) return Math.max(1, index);
  }
  return candidates.length;
}

function encodeCursor(id: string): string {
  return Buffer.from(id).toString("base64url");
}

/** The id a cursor continues after, or null when it is not one of ours. */
function decodeCursor(cursor: string): string | null {
  const id = Buffer.from(cursor, "base64url").toString();
  return /^[0-9a-f-]{36}$/.test(id) ? id : null;
}
