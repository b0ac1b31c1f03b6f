/**
 * @module test/hardening — the process survives its handlers and says why things fail, run as a
 * child process (`node bin/taskrt.js run`): errors leaked by handler code are logged, counted and
 * survived; a process.service that never returns does not hold up start-up; a signal during
 * start-up stops gracefully; a PostgreSQL database that does not exist is named as the cause.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { spawnChildApp, startChildApp, type ChildApp, type ChildAppOptions, type ChildExit } from "./support/child-app.ts";
import { getJson, postJson, waitFor } from "./helpers.ts";
import { LOCAL_POSTGRES, serviceSkip } from "./support/services.ts";

const FIXTURE = "test/fixtures/hardening/_index.yaml";
const POSTGRES_FIXTURE = "test/fixtures/hardening-postgres/_index.yaml";
const MISSING_DATABASE = "taskrt_h11_no_such_database";
const CAUSE = `database "${MISSING_DATABASE}" does not exist`;
/** Start-up, exit and log lines on a loaded 2-core machine: generous, never slept through. */
const DEADLINE_MS = 60_000;

const postgresSkip = await serviceSkip("postgres", LOCAL_POSTGRES.host, LOCAL_POSTGRES.port);
const temporary = mkdtempSync(path.join(tmpdir(), "taskrt-hardening-"));
const children: ChildApp[] = [];
let databaseCount = 0;

after(async () => {
  for (const child of children) if (child.isRunning()) await child.kill();
  rmSync(temporary, { recursive: true, force: true });
});

function track(child: ChildApp): ChildApp {
  children.push(child);
  return child;
}

function freshDatabase(): string {
  return path.join(temporary, `hardening-${++databaseCount}.db`);
}

async function startFixture(options: Partial<ChildAppOptions> = {}): Promise<ChildApp> {
  return track(await startChildApp({ registry: FIXTURE, databaseFile: freshDatabase(), readyTimeoutMs: DEADLINE_MS, ...options }));
}

const postgresOptions = (overrides: string[] = []): ChildAppOptions => ({
  registry: POSTGRES_FIXTURE,
  overrides,
  readyTimeoutMs: DEADLINE_MS,
  env: { PGHOST: LOCAL_POSTGRES.host, PGPORT: String(LOCAL_POSTGRES.port), PGUSER: LOCAL_POSTGRES.user, PGDATABASE: MISSING_DATABASE },
});

/** The child's exit, or a failure (and a SIGKILL) if it has not exited by the deadline. */
async function exitOf(child: ChildApp): Promise<ChildExit> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${DEADLINE_MS}ms:\n${child.stderr()}`)), DEADLINE_MS);
  });
  try {
    return await Promise.race([child.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

function errorRecords(child: ChildApp): Record<string, unknown>[] {
  return child.logRecords().filter((record) => record.level === "error");
}

async function markCount(url: string): Promise<number> {
  const { status, body } = await getJson(`${url}/marks`);
  assert.equal(status, 200, JSON.stringify(body));
  return body.count as number;
}

describe("errors leaked by handler code", () => {
  test("a rejection nobody awaits and a throw in a timer are logged with the entry, request and stack, counted, and the process keeps serving", { timeout: 120_000 }, async () => {
    const child = await startFixture();
    for (const route of ["rejection", "timer", "outside"]) {
      const { status } = await postJson(`${child.url}/leak/${route}`, {});
      assert.equal(status, 200, route);
    }
    const records = await waitFor(async () => {
      const found = errorRecords(child);
      return found.length >= 3 && found;
    }, "three error lines", DEADLINE_MS);
    const byEntry = new Map(records.map((record) => [String(record.entry ?? "none"), record]));

    const rejection = byEntry.get("app:leak_rejection")!;
    assert.equal(rejection.msg, "unhandled rejection in app:leak_rejection: leaked rejection");
    assert.equal(rejection.request, "POST /leak/rejection");
    assert.match(String(rejection.error), /^Error: leaked rejection\n\s+at leakRejection \(.*leaks\.ts:\d+:\d+\)/);

    const timer = byEntry.get("app:leak_timer")!;
    assert.equal(timer.msg, "uncaught exception in app:leak_timer: thrown in a timer");
    assert.equal(timer.request, "POST /leak/timer");
    assert.match(String(timer.error), /^Error: thrown in a timer\n\s+at .*leaks\.ts:\d+:\d+/);

    const outside = byEntry.get("none")!;
    assert.equal(outside.msg, "uncaught exception in unknown entry (no handler call was running): thrown outside any call");
    assert.match(String(outside.error), /^Error: thrown outside any call\n/);

    assert.equal(child.isRunning(), true);
    assert.ok((await markCount(child.url)) >= 0);
    const metrics = await (await fetch(`${child.url}/metrics`)).text();
    for (const line of [
      'taskrt_unhandled_errors_total{entry="app:leak_rejection"} 1',
      'taskrt_unhandled_errors_total{entry="app:leak_timer"} 1',
      'taskrt_unhandled_errors_total{entry="unknown"} 1',
    ]) {
      assert.ok(metrics.split("\n").includes(line), `missing metric line: ${line}`);
    }
    assert.deepEqual(await child.terminate(), { code: 0, signal: null });
  });
});

describe("process.service at start-up", () => {
  test("a process that runs until stopped does not hold up ready; the one-shot migration still gates what requires it; SIGTERM stops it gracefully", { timeout: 120_000 }, async () => {
    const child = await startFixture();
    assert.match(child.stderr(), /^ {2}app:poll-service\s+process\.service\s+app:poll running$/m);
    // The poller requires the migration: its marks land in the table the migration created.
    await waitFor(async () => (await markCount(child.url)) >= 2, "the poller's rounds", DEADLINE_MS);
    const messages = child.logRecords().map((record) => `${record.entry} ${record.msg}`);
    assert.ok(messages.indexOf("app:migrate migration complete") >= 0, messages.join("\n"));
    assert.deepEqual(await child.terminate(), { code: 0, signal: null });
    assert.match(child.stderr(), /received SIGTERM: stopping .*\nstopped cleanly\n$/);
  });

  test("SIGINT while a one-shot service still runs at start-up stops what has started and exits 0", { timeout: 120_000 }, async () => {
    const child = track(spawnChildApp({ registry: FIXTURE, databaseFile: freshDatabase(), env: { HARDENING_HOLD_MIGRATION: "1" } }));
    await waitFor(async () => child.logRecords().some((record) => record.msg === "migration holding"), "the migration to hold", DEADLINE_MS);
    child.process.kill("SIGINT");
    const exit = await exitOf(child);
    assert.deepEqual(exit, { code: 0, signal: null }, child.stderr());
    assert.match(child.stderr(), /\nreceived SIGINT during start-up: stopping what has started; SIGINT again forces exit\nstopped cleanly\n$/);
    assert.doesNotMatch(child.stderr(), /ready in/);
  });
});

describe("a database that does not exist (PostgreSQL)", { skip: postgresSkip }, () => {
  test("required, it ends the start-up at once with the server's cause, logged once", { timeout: 120_000 }, async () => {
    const child = track(spawnChildApp(postgresOptions()));
    const exit = await exitOf(child);
    assert.deepEqual(exit, { code: 1, signal: null }, child.stderr());
    assert.match(child.stderr(), new RegExp(`\\ntaskrt: cannot connect to postgres app:db at 127\\.0\\.0\\.1:5432/${MISSING_DATABASE}: ${CAUSE}\\n  hint: `));
    const dbErrors = errorRecords(child).filter((record) => record.entry === "app:db");
    assert.equal(dbErrors.length, 1, JSON.stringify(dbErrors));
    assert.ok(String(dbErrors[0].msg).endsWith(CAUSE), String(dbErrors[0].msg));
    assert.equal(dbErrors[0].error_code, "E_DB_UNAVAILABLE");
  });

  test("optional, the rest runs: the status line gives the cause, and every use of the database names it", { timeout: 120_000 }, async () => {
    const child = track(await startChildApp(postgresOptions(["app:db:lifecycle.startup=optional"])));
    assert.match(child.stderr(), new RegExp(`^ {2}app:db\\s+db\\.sql\\.postgres\\s+failed: cannot connect to postgres app:db at [^\\n]*: ${CAUSE}$`, "m"));
    for (let request = 0; request < 3; request++) assert.equal((await getJson(`${child.url}/count`)).status, 500);
    const named = `database app:db is not running (failed: cannot connect to postgres app:db at 127.0.0.1:5432/${MISSING_DATABASE}: ${CAUSE})`;
    await waitFor(async () => errorRecords(child).filter((record) => record.entry === "app:count.endpoint").length >= 3, "the endpoint's errors", DEADLINE_MS);
    for (const record of errorRecords(child).filter((record) => record.entry === "app:count.endpoint")) {
      assert.equal(record.msg, `app:count failed: ${named}`);
    }
    const retry = await waitFor(async () => child.logRecords().find((record) => record.entry === "app:migrate-service" && record.msg === "process failed, restarting"), "the migration's retry", DEADLINE_MS);
    assert.equal(retry.error, named);
    assert.equal(errorRecords(child).filter((record) => record.entry === "app:db").length, 1);
    assert.deepEqual(await child.terminate(), { code: 0, signal: null });
  });
});
