/**
 * GET /tasks[?status=&limit=&cursor=] — newest first, in pages. `next_cursor` continues after the
 * last task of this page (null on the last page); it stays valid while tasks are being added.
 * A page also stops at about PAGE_BYTES of task data, whatever `limit` asks (see task_pages.ts).
 *
 * Both statements are reads from outside any transaction: on SQLite in WAL mode they run on the
 * driver's read connection whenever a write transaction holds the main one, so they never wait
 * behind writes.
 */
import { http, sql } from "taskrt";
import { countWithinBudget, decodeCursor, moreFollow, pageJson, rowsStatement, sizesStatement, type PageFilter } from "./task_pages.ts";
import { TASK_STATUSES } from "./tasks.ts";

export { PAGE_BYTES } from "./task_pages.ts";

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
  const filter: PageFilter = { status: status || undefined, before: after };

  const db = await sql.get("app:db");
  try {
    const sizes = sizesStatement(filter, limit);
    const candidates = await db.query(sizes.sql, sizes.params);
    const fits = countWithinBudget(candidates, limit);
    let page: Record<string, unknown>[] = [];
    if (fits > 0) {
      const rows = rowsStatement(filter, String(candidates[fits - 1].id), fits);
      page = await db.query(rows.sql, rows.params);
    }
    response.setStatus(http.STATUS.OK).setContentType(http.CONTENT.JSON).write(pageJson(page, moreFollow(candidates, fits, page)));
  } finally {
    db.release();
  }
}
