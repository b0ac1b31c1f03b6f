/**
 * One page of GET /tasks, newest first: its two statements, how many rows fit, and its JSON. Pure
 * (no taskrt module), so the bench's hand-written baseline serves a page with the same SQL and the
 * same JSON as app:list_tasks does. The SQL runs on SQLite and PostgreSQL alike (`?` placeholders).
 *
 * A page stops at about PAGE_BYTES of task data whatever `limit` asks, so one request can never
 * build (or make the database hand over) hundreds of megabytes: the sizes are read first, then
 * only the rows that fit. It holds at least one task, so following the cursor always progresses.
 * One statement with a window-function running sum would do both, but measured on SQLite it costs
 * about twice the CPU of these two (its sorts and co-routines outweigh the second statement).
 */
import { TASK_COLUMNS, taskJson } from "./tasks.ts";

/** Task data per page at most (payload, result and error as stored, in bytes); the rest follows the cursor. */
export const PAGE_BYTES = 2 * 1024 * 1024;
/** Allowance per task for its other fields and the JSON around them. */
export const ROW_OVERHEAD = 256;

export interface PageFilter {
  status?: string;
  /** Continue below this id (the cursor's). */
  before?: string;
}

export interface Statement {
  sql: string;
  params: unknown[];
}

/**
 * The ids and stored sizes of the newest `limit + 1` tasks (the extra one tells whether more
 * follow). octet_length counts bytes without decoding the text (SQLite ≥ 3.43, PostgreSQL).
 */
export function sizesStatement(filter: PageFilter, limit: number): Statement {
  const { where, params } = conditions(filter);
  return {
    sql: `SELECT id, octet_length(payload) + COALESCE(octet_length(result), 0) + COALESCE(octet_length(error), 0) AS size FROM tasks${where} ORDER BY id DESC LIMIT ?`,
    params: [...params, limit + 1],
  };
}

/**
 * The `count` newest tasks down to `lastId` (the last one that fits). Bounded below by that id, so
 * tasks added since the sizes were read push the oldest out of the page instead of growing it.
 */
export function rowsStatement(filter: PageFilter, lastId: string, count: number): Statement {
  const { where, params } = conditions(filter);
  return {
    sql: `SELECT ${TASK_COLUMNS.join(", ")} FROM tasks${where}${where ? " AND" : " WHERE"} id >= ? ORDER BY id DESC LIMIT ?`,
    params: [...params, lastId, count],
  };
}

/** How many of the first rows (at most `limit`) fit in PAGE_BYTES; at least one when there is any. */
export function countWithinBudget(sizes: readonly Record<string, unknown>[], limit: number): number {
  const rows = Math.min(limit, sizes.length);
  let bytes = 0;
  for (let index = 0; index < rows; index++) {
    bytes += ROW_OVERHEAD + Number(sizes[index].size);
    if (bytes > PAGE_BYTES) return Math.max(1, index);
  }
  return rows;
}

/**
 * The page's JSON, written around each task's stored JSON (see taskJson): no parse and
 * re-serialise. `more`: whether tasks follow the page, so `next_cursor` names its last one.
 */
export function pageJson(page: readonly Record<string, unknown>[], more: boolean): string {
  let tasks = "";
  for (let index = 0; index < page.length; index++) tasks += (index === 0 ? "" : ",") + taskJson(page[index]);
  const next = more && page.length > 0 ? JSON.stringify(encodeCursor(String(page[page.length - 1].id))) : "null";
  return `{"tasks":[${tasks}],"count":${page.length},"next_cursor":${next}}`;
}

/**
 * Whether tasks follow a page read as `fits` rows of `sizes`: the sizes saw more, or tasks added
 * between the two statements pushed some of those that fit out of it.
 */
export function moreFollow(sizes: readonly Record<string, unknown>[], fits: number, page: readonly Record<string, unknown>[]): boolean {
  if (page.length === 0) return false;
  return sizes.length > fits || page[page.length - 1].id !== sizes[fits - 1].id;
}

export function encodeCursor(id: string): string {
  return Buffer.from(id).toString("base64url");
}

/** The id a cursor continues after, or null when it is not one of ours. */
export function decodeCursor(cursor: string): string | null {
  const id = Buffer.from(cursor, "base64url").toString();
  return /^[0-9a-f-]{36}$/.test(id) ? id : null;
}

function conditions(filter: PageFilter): { where: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (filter.status !== undefined) {
    clauses.push("status = ?");
    params.push(filter.status);
  }
  if (filter.before !== undefined) {
    clauses.push("id < ?");
    params.push(filter.before);
  }
  return { where: clauses.length === 0 ? "" : ` WHERE ${clauses.join(" AND ")}`, params };
}
