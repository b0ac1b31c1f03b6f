/**
 * @module test/app-task-pages — GET /tasks's statements (app/task_pages.ts) on a real SQLite
 * table and, where it answers, the local PostgreSQL: newest first, the status and cursor filters,
 * the PAGE_BYTES bound counted in bytes, and the JSON the page is written as.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import BetterSqlite3 from "better-sqlite3";
import pg from "pg";
import { PAGE_BYTES, countWithinBudget, decodeCursor, encodeCursor, moreFollow, pageJson, rowsStatement, sizesStatement, type PageFilter, type Statement } from "../app/task_pages.ts";
import { presentTask } from "../app/tasks.ts";
import { LOCAL_POSTGRES, serviceSkip } from "./support/services.ts";

const SCHEMA = `CREATE TABLE tasks (
  id TEXT PRIMARY KEY, action TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'queued',
  result TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, processed_at BIGINT)`;
const INSERT = "INSERT INTO tasks (id, action, payload, status, result, error, attempts, created_at, updated_at, processed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/** Ids in the app's shape that sort by their number. */
const idOf = (n: number): string => `01890a5d-0000-7000-8000-${String(n).padStart(12, "0")}`;

/** Ten small tasks, every third completed; `n` 9 is the newest. */
const ROWS = Array.from({ length: 10 }, (_, n) => [
  idOf(n),
  "uppercase",
  JSON.stringify({ id: idOf(n), action: "uppercase", data: { text: `task ${n}` }, created_at: n }),
  n % 3 === 0 ? "completed" : "queued",
  n % 3 === 0 ? JSON.stringify({ output: `TASK ${n}` }) : null,
  null,
  n % 3 === 0 ? 1 : 0,
  1_700_000_000_000 + n,
  1_700_000_000_000 + n,
  n % 3 === 0 ? 1_700_000_000_100 + n : null,
]);

interface Database {
  all(statement: Statement): Promise<Record<string, unknown>[]>;
  insert(row: unknown[]): Promise<void>;
  clear(): Promise<void>;
}

/** A page as list_tasks reads it: sizes, how many fit, the rows. */
async function readPage(db: Database, filter: PageFilter, limit: number): Promise<{ page: Record<string, unknown>[]; more: boolean }> {
  const sizes = await db.all(sizesStatement(filter, limit));
  const fits = countWithinBudget(sizes, limit);
  const page = fits === 0 ? [] : await db.all(rowsStatement(filter, String(sizes[fits - 1].id), fits));
  return { page, more: moreFollow(sizes, fits, page) };
}

function pageBehaviour(open: () => Database | undefined): void {
  test("newest first, limited, with the status and cursor filters; the last page says no more follow", async () => {
    const db = open()!;
    await db.clear();
    for (const row of ROWS) await db.insert(row);

    const first = await readPage(db, {}, 4);
    assert.deepEqual(first.page.map((row) => row.id), [9, 8, 7, 6].map(idOf));
    assert.equal(first.more, true);
    const second = await readPage(db, { before: idOf(6) }, 4);
    assert.deepEqual(second.page.map((row) => row.id), [5, 4, 3, 2].map(idOf));
    const last = await readPage(db, { before: idOf(2) }, 4);
    assert.deepEqual(last.page.map((row) => row.id), [1, 0].map(idOf));
    assert.equal(last.more, false);

    const completed = await readPage(db, { status: "completed" }, 10);
    assert.deepEqual(completed.page.map((row) => row.id), [9, 6, 3, 0].map(idOf));
    assert.equal(completed.more, false);
    assert.deepEqual((await readPage(db, { status: "completed", before: idOf(6) }, 1)).page.map((row) => row.id), [idOf(3)]);
    assert.deepEqual(await readPage(db, { status: "failed" }, 10), { page: [], more: false });

    // The JSON of a page is what serialising the parsed tasks gives, cursor included.
    const json = JSON.parse(pageJson(first.page, first.more));
    assert.deepEqual(json, { tasks: first.page.map(presentTask), count: 4, next_cursor: encodeCursor(idOf(6)) });
    assert.equal(decodeCursor(json.next_cursor), idOf(6));
    assert.deepEqual(JSON.parse(pageJson(last.page, last.more)).next_cursor, null);
  });

  test("a page stops at PAGE_BYTES counted in bytes of stored text, not characters, and holds at least one task", async () => {
    const db = open()!;
    await db.clear();
    // 400,000 two-byte characters: 800,000 bytes a payload. By characters three would fit in
    // 2 MiB; by bytes only two do.
    const wide = "é".repeat(400_000);
    for (let n = 0; n < 4; n++) await db.insert([idOf(n), "uppercase", JSON.stringify({ text: wide }), "queued", null, null, 0, n, n, null]);
    const first = await readPage(db, {}, 100);
    assert.deepEqual(first.page.map((row) => row.id), [3, 2].map(idOf));
    assert.equal(first.more, true);

    // One task larger than the whole budget still makes a page of its own.
    await db.insert([idOf(9), "uppercase", JSON.stringify({ text: "x".repeat(PAGE_BYTES + 1) }), "queued", null, null, 0, 9, 9, null]);
    const huge = await readPage(db, {}, 100);
    assert.deepEqual(huge.page.map((row) => row.id), [idOf(9)]);
    assert.equal(huge.more, true);
  });
}

describe("a page of tasks on SQLite", () => {
  let sqlite: BetterSqlite3.Database | undefined;
  before(() => {
    sqlite = new BetterSqlite3(":memory:");
    sqlite.exec(SCHEMA);
  });
  after(() => sqlite?.close());
  pageBehaviour(() => ({
    all: async ({ sql, params }) => sqlite!.prepare(sql).all(...params) as Record<string, unknown>[],
    insert: async (row) => void sqlite!.prepare(INSERT).run(...row),
    clear: async () => void sqlite!.exec("DELETE FROM tasks"),
  }));
});

const skip = await serviceSkip("postgres", LOCAL_POSTGRES.host, LOCAL_POSTGRES.port);

describe("a page of tasks on PostgreSQL", { skip }, () => {
  const schema = `taskrt_task_pages_${process.pid}`;
  let client: pg.Client | undefined;
  const numbered = (sql: string): string => {
    let index = 0;
    return sql.replace(/\?/g, () => `$${++index}`);
  };
  before(async () => {
    client = new pg.Client({ host: LOCAL_POSTGRES.host, port: LOCAL_POSTGRES.port, user: LOCAL_POSTGRES.user, database: LOCAL_POSTGRES.database });
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(`SET search_path TO ${schema}`);
    await client.query(SCHEMA);
  });
  after(async () => {
    await client?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client?.end();
  });
  pageBehaviour(() => ({
    // BIGINT columns come back as strings from pg; the page compares ids and sizes only.
    all: async ({ sql, params }) => (await client!.query(numbered(sql), params)).rows.map((row) => ({ ...row, created_at: Number(row.created_at), updated_at: Number(row.updated_at), processed_at: row.processed_at === null ? null : Number(row.processed_at) })),
    insert: async (row) => void (await client!.query(numbered(INSERT), row)),
    clear: async () => void (await client!.query("DELETE FROM tasks")),
  }));
});

