/**
 * @module test/support/task-run — driving the task app of several `taskrt` processes sharing one
 * PostgreSQL tasks table (examples/scale-out, examples/postgres): a known mix of tasks POSTed
 * round-robin, then every row checked against what was accepted.
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import type { ChildApp } from "./child-app.ts";

export interface ExpectedTask {
  action: string;
  data: Record<string, unknown>;
  /** The result's output, or undefined for a task that must end failed. */
  output?: unknown;
}

export interface TaskRow {
  id: string;
  action: string;
  status: string;
  result: string | null;
  error: string | null;
  attempts: number;
}

/** Task i of a run: mostly work that succeeds, every tenth one a task that always fails. */
export function expectedTask(index: number): ExpectedTask {
  switch (index % 10) {
    case 0:
      return { action: "fail", data: {} };
    case 1:
    case 4:
    case 7:
      return { action: "sum", data: { numbers: [index, 1, 2] }, output: index + 3 };
    case 5:
      return { action: "echo", data: { index }, output: "processed" };
    default:
      return { action: "uppercase", data: { text: `task ${index}` }, output: `TASK ${index}` };
  }
}

/** POSTs tasks first..first+count-1, each to the next process in turn, `inFlight` at a time; records every 202. */
export async function postRoundRobin(targets: ChildApp[], first: number, count: number, accepted: Map<string, ExpectedTask>, inFlight = 15): Promise<void> {
  let next = first;
  const failures: string[] = [];
  const worker = async (): Promise<void> => {
    while (next < first + count) {
      const index = next++;
      const expected = expectedTask(index);
      const target = targets[index % targets.length];
      const response = await fetch(`${target.url}/tasks`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ action: expected.action, data: expected.data }),
      });
      const body = (await response.json()) as { id?: string; status?: string };
      if (response.status === 202 && typeof body.id === "string" && body.status === "queued") accepted.set(body.id, expected);
      else failures.push(`task ${index} to ${target.url}: ${response.status} ${JSON.stringify(body)}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} POSTs were not accepted`);
}

/** Ids of at least `minimum` rows of `schema`.tasks that have been running for over a second. */
export async function waitForStuckRunning(database: pg.Pool, schema: string, minimum: number, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await database.query<{ id: string }>(`SELECT id FROM ${schema}.tasks WHERE status = 'running' AND updated_at < $1`, [Date.now() - 1000]);
    if (rows.length >= minimum) return rows.map((row) => row.id);
    if (Date.now() > deadline) throw new Error(`after ${timeoutMs}ms only ${rows.length} tasks had been running for over a second; expected the victim to hold ${minimum}`);
    await sleep(100);
  }
}

/**
 * Waits until no message of `schema`'s queue table waits or is leased (dead letters stay). A task's
 * final row is committed before its message is acknowledged, so the two are a moment apart.
 */
export async function waitForSettledMessages(database: pg.Pool, schema: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await database.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM ${schema}.taskrt_queue_messages WHERE state <> 'dead'`);
    if (rows[0].n === 0) return;
    if (Date.now() > deadline) throw new Error(`after ${timeoutMs}ms, ${rows[0].n} messages still wait or are leased though every task is finished`);
    await sleep(50);
  }
}

/**
 * Every row once none is queued or running any more (a fail task is failed only once
 * dead-lettered). `backlog` describes what still waits in the queue, for the timeout's message.
 */
export async function waitForFinalStates(
  database: pg.Pool,
  schema: string,
  accepted: Map<string, ExpectedTask>,
  timeoutMs: number,
  backlog: () => Promise<string>,
): Promise<TaskRow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await database.query<TaskRow>(`SELECT id, action, status, result, error, attempts FROM ${schema}.tasks`);
    const open = rows.filter((row) => row.status !== "completed" && !(row.status === "failed" && accepted.get(row.id)?.output === undefined));
    if (open.length === 0 && rows.length >= accepted.size) return rows;
    if (Date.now() > deadline) {
      const byStatus = new Map<string, number>();
      for (const row of open) byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + 1);
      const summary = [...byStatus].map(([status, count]) => `${count} ${status}`).join(", ");
      throw new Error(
        `after ${timeoutMs}ms, ${open.length} of ${accepted.size} accepted tasks are not finished (${summary}) while ${await backlog()}; ${rows.length} rows; e.g. ${JSON.stringify(open.slice(0, 3))}`,
      );
    }
    await sleep(100);
  }
}

/**
 * What is wrong with the rows, task by task: a row per accepted task, each with its expected
 * outcome (fail tasks after `maxAttempts`, or one more when `crashCounts`: a queue that counts a
 * delivery to a process that died as an attempt gives a fail task it held one more run).
 */
export function taskProblems(rows: readonly TaskRow[], accepted: ReadonlyMap<string, ExpectedTask>, maxAttempts: number, crashCounts = false): string[] {
  const allowed = crashCounts ? [maxAttempts, maxAttempts + 1] : [maxAttempts];
  const problems: string[] = [];
  if (rows.length !== accepted.size) problems.push(`${rows.length} rows for ${accepted.size} accepted tasks`);
  for (const row of rows) {
    const expected = accepted.get(row.id);
    if (!expected) {
      problems.push(`${row.id}: a row no POST was answered for`);
      continue;
    }
    if (row.action !== expected.action) problems.push(`${row.id}: action ${row.action}, expected ${expected.action}`);
    if (expected.output === undefined) {
      if (row.status !== "failed") problems.push(`${row.id} (fail): status ${row.status}, expected failed`);
      if (!allowed.some((attempts) => row.error === `action 'fail' always fails (attempt ${attempts})`)) problems.push(`${row.id} (fail): error ${JSON.stringify(row.error)}`);
      if (!allowed.includes(row.attempts)) problems.push(`${row.id} (fail): ${row.attempts} attempts recorded, expected ${allowed.join(" or ")}`);
    } else {
      if (row.status !== "completed") problems.push(`${row.id} (${expected.action}): status ${row.status}, expected completed`);
      const result = row.result === null ? null : (JSON.parse(row.result) as unknown);
      if (JSON.stringify(result) !== JSON.stringify({ output: expected.output })) {
        problems.push(`${row.id} (${expected.action}): result ${row.result}, expected ${JSON.stringify({ output: expected.output })}`);
      }
      if (row.error !== null) problems.push(`${row.id} (${expected.action}): error ${row.error} left on a completed task`);
    }
  }
  return problems;
}

/** Every task id through GET /tasks, following next_cursor. */
export async function listAll(app: ChildApp): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const response: Response = await fetch(`${app.url}/tasks?limit=250${cursor ? `&cursor=${cursor}` : ""}`);
    assert.equal(response.status, 200);
    const page = (await response.json()) as { tasks: { id: string }[]; next_cursor: string | null };
    ids.push(...page.tasks.map((task) => task.id));
    cursor = page.next_cursor;
  } while (cursor !== null);
  return ids;
}
