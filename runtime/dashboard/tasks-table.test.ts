/**
 * The dashboard's tasks section on both SQL databases: the same table read through SQLite and
 * PostgreSQL gives the same counts, pages and detail (PostgreSQL skips where it does not answer).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { SqlDatabase } from "../drivers/sql/driver.ts";
import { LOCAL_POSTGRES, serviceSkip } from "../../test/support/services.ts";
import { GATEWAY, startSnippet } from "../../test/support/registry.ts";

const TABLE = `dashboard_tasks_${process.pid}`;

const SQLITE = `
  - name: db
    kind: db.sql.sqlite
    file: "{dir}/app.db"
    lifecycle:
      auto_start: true
`;

const POSTGRES = `
  - name: db
    kind: db.sql.postgres
    host: ${LOCAL_POSTGRES.host}
    port: ${LOCAL_POSTGRES.port}
    database: ${LOCAL_POSTGRES.database}
    username: ${LOCAL_POSTGRES.user}
    lifecycle:
      auto_start: true
`;

// A column named like an SQL keyword ("order") shows that identifiers are quoted on both databases.
const DASHBOARD = `
  - name: dashboard
    kind: taskrt.dashboard
    meta:
      router: app:router
    tasks:
      db: app:db
      table: ${TABLE}
      id: task_id
      status: state
      order_by: created_at
      list: [order]
`;

async function readDashboard(database: string): Promise<void> {
  const running = await startSnippet(GATEWAY + database + DASHBOARD);
  const db = running.supervisor.component<SqlDatabase>("app:db");
  try {
    await db.execute(`DROP TABLE IF EXISTS ${TABLE}`);
    await db.execute(`CREATE TABLE ${TABLE} (task_id TEXT PRIMARY KEY, state TEXT NOT NULL, "order" TEXT, created_at BIGINT NOT NULL, result TEXT)`);
    for (let index = 1; index <= 7; index++) {
      await db.execute(`INSERT INTO ${TABLE} (task_id, state, "order", created_at, result) VALUES (?, ?, ?, ?, ?)`, [
        `task-${index}`,
        index % 2 === 0 ? "failed" : "completed",
        `#${index}`,
        1_700_000_000_000 + index,
        index % 2 === 0 ? null : '{"output": 3}',
      ]);
    }
    const base = `${running.url()}/dashboard/api`;
    const address = running.supervisor.component<{ address(): string }>("app:dashboard").address();
    const headers = { authorization: `Bearer ${new URL(address).hash.slice("#token=".length)}` };
    const overview = (await (await fetch(`${base}/overview`, { headers })).json()) as { tasks: unknown };
    assert.deepEqual(overview.tasks, {
      table: TABLE,
      columns: { id: "task_id", status: "state", list: ["order"] },
      counts: { completed: 4, failed: 3 },
      total: 7,
    });
    const failed = (await (await fetch(`${base}/tasks?status=failed&limit=2&offset=1`, { headers })).json()) as Record<string, unknown>;
    assert.deepEqual(failed, {
      tasks: [
        { task_id: "task-4", state: "failed", order: "#4" },
        { task_id: "task-2", state: "failed", order: "#2" },
      ],
      total: 3,
      offset: 1,
      limit: 2,
    });
    const one = (await (await fetch(`${base}/tasks/task-3`, { headers })).json()) as { task: Record<string, unknown> };
    assert.deepEqual({ ...one.task, created_at: Number(one.task.created_at) }, {
      task_id: "task-3",
      state: "completed",
      order: "#3",
      created_at: 1_700_000_000_003,
      result: '{"output": 3}',
    });
  } finally {
    await db.execute(`DROP TABLE IF EXISTS ${TABLE}`).catch(() => undefined);
    await running.stop();
  }
}

describe("dashboard tasks table", () => {
  test("on SQLite: counts by status, a filtered page, one task in full", () => readDashboard(SQLITE));
});

const postgresSkip = await serviceSkip("postgres", LOCAL_POSTGRES.host, LOCAL_POSTGRES.port);

describe("dashboard tasks table on PostgreSQL", { skip: postgresSkip }, () => {
  test("the same table gives the same counts, page and detail", () => readDashboard(POSTGRES));
});
