import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRuntime, checkRegistry, type Runtime } from "../runtime.ts";
import { createLogger, type Logger } from "../logger.ts";
import type { Problem } from "../errors.ts";
import type { SqlDatabase } from "../drivers/sql/driver.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import queueSchedule, { createQueueSchedule, type QueueSchedule } from "./queue-schedule.ts";

// describe() prints the next tick in the process's zone.
process.env.TZ = "UTC";

const HOUR = 3_600_000;
/** 2026-03-01T10:00:00.000Z: a whole hour, so hourly ticks are easy to read. */
const T0 = Date.UTC(2026, 2, 1, 10);

interface LogLine {
  level: string;
  msg: string;
  entry?: string;
}

/** A registry on a fresh SQLite file: the queue lives in app:db, the schedule `app:tick` is not auto-started. */
async function startRegistry(schedule: Record<string, unknown>): Promise<{ runtime: Runtime; lines: LogLine[]; logger: Logger; remove(): Promise<void> }> {
  const directory = mkdtempSync(join(tmpdir(), "taskrt-schedule-"));
  const fields = Object.entries(schedule)
    .map(([key, value]) => `    ${key}: ${JSON.stringify(value)}`)
    .join("\n");
  writeFileSync(
    join(directory, "_index.yaml"),
    `version: "1.0"
namespace: app
entries:
  - name: db
    kind: db.sql.sqlite
    file: ${JSON.stringify(join(directory, "app.db"))}
    lifecycle: { auto_start: true }
  - name: queue_driver
    kind: queue.driver.sqlite
    db: app:db
    lifecycle: { auto_start: true }
  - name: jobs
    kind: queue.queue
    driver: app:queue_driver
  - name: tick
    kind: queue.schedule
    queue: app:jobs
${fields}
`,
  );
  const lines: LogLine[] = [];
  const logger = createLogger({ level: "debug", format: "json", sink: { write: (line) => void lines.push(JSON.parse(line) as LogLine) } });
  const runtime = await startRuntime({ path: join(directory, "_index.yaml"), kinds: [queueSchedule], logger }).catch((error) => {
    throw new Error(JSON.stringify(error.problems));
  });
  return {
    runtime,
    lines,
    logger,
    async remove() {
      await runtime.stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Another component of `app:tick`, as a second taskrt process (or a restarted one) would build it. */
function scheduleOf(runtime: Runtime, logger: Logger, now?: () => number): QueueSchedule {
  const context: BuildContext = {
    registry: runtime.registry,
    logger,
    services: runtime.supervisor.services,
    component: (id) => runtime.component(id),
  };
  return createQueueSchedule(runtime.registry.byId.get("app:tick")!, context, now ? { now } : {});
}

/** The x_scheduled_at of every message published to app:jobs, in publishing order. */
async function publishedTicks(runtime: Runtime): Promise<string[]> {
  const database = runtime.component<SqlDatabase>("app:db");
  const rows = await database.query("SELECT headers, body FROM taskrt_queue_messages WHERE queue = 'jobs' ORDER BY seq");
  return rows.map((row) => JSON.parse(String(row.headers)).x_scheduled_at as string);
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Each tick once, one period apart: no tick published twice, none skipped in between. */
function assertContiguous(ticks: readonly string[], periodMs: number): void {
  assert.equal(new Set(ticks).size, ticks.length, `a tick was published twice: ${ticks.join(", ")}`);
  const times = ticks.map((tick) => Date.parse(tick));
  for (let index = 1; index < times.length; index++) {
    assert.equal(times[index] - times[index - 1], periodMs, `ticks ${ticks[index - 1]} and ${ticks[index]} are not one period apart`);
  }
}

const iso = (at: number) => new Date(at).toISOString();

describe("queue.schedule on a shared database", () => {
  test("two schedule components on one database publish each tick exactly once", async () => {
    const app = await startRegistry({ interval: "150ms", db: "app:db", body: { action: "sum", data: { numbers: [1, 2, 3] } } });
    const first = scheduleOf(app.runtime, app.logger);
    const second = scheduleOf(app.runtime, app.logger);
    try {
      await Promise.all([first.start(), second.start()]);
      await waitFor(async () => (await publishedTicks(app.runtime)).length >= 6, "six ticks");
      await Promise.all([first.stop(), second.stop()]);
      const ticks = await publishedTicks(app.runtime);
      assertContiguous(ticks, 150);
      // Both components went for the ticks: the losers' claims were refused.
      assert.ok(app.lines.some((line) => / was published by another process$/.test(line.msg)), "no tick was contended");
      const database = app.runtime.component<SqlDatabase>("app:db");
      const [message] = await database.query("SELECT body, headers FROM taskrt_queue_messages WHERE queue = 'jobs' ORDER BY seq LIMIT 1");
      assert.deepEqual(JSON.parse(String(message.body)), { action: "sum", data: { numbers: [1, 2, 3] } });
      assert.deepEqual(JSON.parse(String(message.headers)), { x_scheduled_at: ticks[0], x_schedule: "app:tick" });
      // Only the latest claim is kept: it is the last run a restart starts from.
      const claims = await database.query("SELECT tick_at FROM taskrt_schedule_ticks WHERE schedule_id = 'app:tick'");
      assert.deepEqual(claims.map((row) => iso(Number(row.tick_at))), [ticks[ticks.length - 1]]);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
      await app.remove();
    }
  });

  test("a restart publishes the ticks missed while stopped exactly once, repeating none", async () => {
    const app = await startRegistry({ interval: "150ms", db: "app:db", catch_up: "all" });
    const before = scheduleOf(app.runtime, app.logger);
    let after: QueueSchedule | undefined;
    try {
      await before.start();
      await waitFor(async () => (await publishedTicks(app.runtime)).length >= 2, "two ticks");
      await before.stop();
      const stoppedAt = Date.now();
      const published = await publishedTicks(app.runtime);
      await new Promise((resolve) => setTimeout(resolve, 500));
      after = scheduleOf(app.runtime, app.logger);
      await after.start();
      const restarted = await publishedTicks(app.runtime);
      await after.stop();
      assert.deepEqual(restarted.slice(0, published.length), published);
      const missed = restarted.slice(published.length);
      assert.ok(missed.length >= 3, `expected the three or more ticks of the 500ms stop, got ${missed.join(", ")}`);
      assert.ok(Date.parse(missed[missed.length - 1]) > stoppedAt, "the latest missed tick came due after the stop");
      assertContiguous(restarted, 150);
    } finally {
      await before.stop();
      await after?.stop();
      await app.remove();
    }
  });

  test("a first start publishes nothing for past ticks and records the latest one as its beginning", async () => {
    const app = await startRegistry({ interval: "1h", db: "app:db" });
    const now = T0 + 20 * 60_000;
    const schedule = scheduleOf(app.runtime, app.logger, () => now);
    try {
      await schedule.start();
      assert.deepEqual(await publishedTicks(app.runtime), []);
      const claims = await app.runtime.component<SqlDatabase>("app:db").query("SELECT schedule_id, tick_at FROM taskrt_schedule_ticks");
      assert.deepEqual(claims, [{ schedule_id: "app:tick", tick_at: T0 }]);
      assert.equal(schedule.describe(), "every 1h → app:jobs (next 11:00:00)");
    } finally {
      await schedule.stop();
      await app.remove();
    }
  });

  for (const [catchUp, expected] of [
    ["all", [T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]],
    ["latest", [T0 + 3 * HOUR]],
    ["none", []],
  ] as const) {
    test(`catch_up: ${catchUp} publishes ${expected.length === 0 ? "none" : expected.length === 1 ? "only the latest" : "every one"} of the ticks missed while stopped`, async () => {
      const app = await startRegistry({ interval: "1h", db: "app:db", catch_up: catchUp });
      let now = T0 + 60_000;
      const clock = () => now;
      try {
        const first = scheduleOf(app.runtime, app.logger, clock);
        await first.start();
        await first.stop();
        now = T0 + 3 * HOUR + 60_000;
        const restarted = scheduleOf(app.runtime, app.logger, clock);
        await restarted.start();
        await restarted.stop();
        assert.deepEqual(await publishedTicks(app.runtime), expected.map(iso));
        const skipped = app.lines.filter((line) => line.msg.startsWith("skipping")).map((line) => line.msg);
        assert.deepEqual(
          skipped,
          {
            all: [],
            latest: [`skipping the ticks missed while stopped, up to ${iso(T0 + 2 * HOUR)} (catch_up: latest); publishing ${iso(T0 + 3 * HOUR)}`],
            none: [`skipping the ticks missed while stopped, up to ${iso(T0 + 3 * HOUR)} (catch_up: none)`],
          }[catchUp],
        );
      } finally {
        await app.remove();
      }
    });
  }

  test("by default the ticks missed while stopped are skipped, as BullMQ and pg-boss do: a restart publishes nothing late", async () => {
    const app = await startRegistry({ interval: "1h", db: "app:db" });
    let now = T0 + 60_000;
    const clock = () => now;
    try {
      const first = scheduleOf(app.runtime, app.logger, clock);
      await first.start();
      await first.stop();
      now = T0 + 3 * HOUR + 60_000;
      const restarted = scheduleOf(app.runtime, app.logger, clock);
      await restarted.start();
      await restarted.stop();
      assert.deepEqual(await publishedTicks(app.runtime), []);
      assert.deepEqual(
        app.lines.filter((line) => line.msg.startsWith("skipping")).map((line) => line.msg),
        [`skipping the ticks missed while stopped, up to ${iso(T0 + 3 * HOUR)} (catch_up: none)`],
      );
    } finally {
      await app.remove();
    }
  });

  test("more missed ticks than catch_up_limit: the latest ones are published and the skip is logged", async () => {
    const app = await startRegistry({ interval: "1h", db: "app:db", catch_up: "all", catch_up_limit: 2 });
    let now = T0 + 60_000;
    const clock = () => now;
    try {
      const first = scheduleOf(app.runtime, app.logger, clock);
      await first.start();
      await first.stop();
      now = T0 + 5 * HOUR + 60_000;
      const restarted = scheduleOf(app.runtime, app.logger, clock);
      await restarted.start();
      await restarted.stop();
      assert.deepEqual(await publishedTicks(app.runtime), [iso(T0 + 4 * HOUR), iso(T0 + 5 * HOUR)]);
      assert.deepEqual(
        app.lines.filter((line) => line.level === "warn").map((line) => [line.entry, line.msg]),
        [["app:tick", `more than 2 ticks are due: publishing the latest 2, from ${iso(T0 + 4 * HOUR)}; the older ones, up to ${iso(T0 + 3 * HOUR)}, are skipped (catch_up_limit)`]],
      );
    } finally {
      await app.remove();
    }
  });

  test("a tick whose publish fails is not claimed: it is retried, then published once", async () => {
    const app = await startRegistry({ interval: "1h", db: "app:db", catch_up: "all" });
    let now = T0 + 60_000;
    const clock = () => now;
    const driver = app.runtime.component<{ start(): Promise<void>; stop(): Promise<void> }>("app:queue_driver");
    const restarted = scheduleOf(app.runtime, app.logger, clock);
    try {
      const first = scheduleOf(app.runtime, app.logger, clock);
      await first.start();
      await first.stop();
      await driver.stop();
      now = T0 + HOUR + 60_000;
      await restarted.start();
      const errors = app.lines.filter((line) => line.level === "error").map((line) => line.msg);
      assert.deepEqual(errors, [
        `tick ${iso(T0 + HOUR)} could not be published to app:jobs: queue driver app:queue_driver cannot publish to queue "jobs": it is stopped; trying again in 1s`,
      ]);
      const claims = async () => (await app.runtime.component<SqlDatabase>("app:db").query("SELECT tick_at FROM taskrt_schedule_ticks")).map((row) => row.tick_at);
      assert.deepEqual(await claims(), [T0], "the failed tick's claim was rolled back with its publish");
      await driver.start();
      await waitFor(async () => (await publishedTicks(app.runtime)).length > 0, "the retried tick");
      await restarted.stop();
      assert.deepEqual(await publishedTicks(app.runtime), [iso(T0 + HOUR)]);
      assert.deepEqual(await claims(), [T0 + HOUR]);
    } finally {
      await restarted.stop();
      await app.remove();
    }
  });

  test("a database that cannot be written fails the start with E_SCHEDULE_STORE", async () => {
    const app = await startRegistry({ interval: "1h", db: "app:db" });
    const database = app.runtime.component<{ raw(): { pragma(text: string): unknown } }>("app:db").raw();
    database.pragma("query_only = 1");
    const schedule = scheduleOf(app.runtime, app.logger);
    try {
      await assert.rejects(schedule.start(), {
        code: "E_SCHEDULE_STORE",
        message: /^schedule app:tick cannot read its last tick from app:db: .*readonly/,
      });
    } finally {
      database.pragma("query_only = 0");
      await app.remove();
    }
  });
});

describe("queue.schedule without a database", () => {
  test("publishes each tick, starting from the next one, and describes its cron and zone", async () => {
    const app = await startRegistry({ cron: "*/1 * * * * *", timezone: "Europe/Paris", body: "ping" });
    const schedule = scheduleOf(app.runtime, app.logger);
    try {
      await schedule.start();
      assert.match(schedule.describe(), /^cron "\*\/1 \* \* \* \* \*" \(Europe\/Paris\) → app:jobs \(next \d\d:\d\d:\d\d\)$/);
      await waitFor(async () => (await publishedTicks(app.runtime)).length >= 2, "two ticks", 5000);
      await schedule.stop();
      const ticks = await publishedTicks(app.runtime);
      assertContiguous(ticks, 1000);
      assert.equal(schedule.describe(), 'cron "*/1 * * * * *" (Europe/Paris) → app:jobs');
    } finally {
      await schedule.stop();
      await app.remove();
    }
  });

  test("a disabled schedule starts, publishes nothing and says how to enable it", async () => {
    const app = await startRegistry({ interval: "1h", enabled: false });
    const schedule = scheduleOf(app.runtime, app.logger);
    try {
      await schedule.start();
      assert.equal(schedule.describe(), "disabled: every 1h → app:jobs");
      assert.deepEqual(
        app.lines.filter((line) => line.entry === "app:tick").map((line) => [line.level, line.msg]),
        [["info", "disabled: publishes nothing (enable it with -o app:tick:enabled=true)"]],
      );
      await schedule.stop();
      assert.deepEqual(await publishedTicks(app.runtime), []);
    } finally {
      await app.remove();
    }
  });
});

describe("queue.schedule checks", () => {
  async function problemsOf(schedule: Record<string, unknown>, queueDriver = "app:queue_driver"): Promise<[string, string, string | undefined, string, string | undefined][]> {
    const directory = mkdtempSync(join(tmpdir(), "taskrt-schedule-check-"));
    try {
      const fields = Object.entries({ queue: "app:jobs", lifecycle: { auto_start: true }, ...schedule })
        .map(([key, value]) => `    ${key}: ${JSON.stringify(value)}`)
        .join("\n");
      writeFileSync(
        join(directory, "_index.yaml"),
        `version: "1.0"
namespace: app
entries:
  - name: db
    kind: db.sql.sqlite
    file: ":memory:"
  - name: queue_driver
    kind: queue.driver.sqlite
    db: app:db
  - name: memory_driver
    kind: queue.driver.memory
  - name: jobs
    kind: queue.queue
    driver: ${queueDriver}
  - name: tick
    kind: queue.schedule
${fields}
`,
      );
      const { problems } = await checkRegistry({ path: join(directory, "_index.yaml"), kinds: [queueSchedule] });
      return problems.map((problem: Problem) => [problem.code, problem.severity, problem.field, problem.message, problem.hint]);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }

  test("a valid schedule with a db has no problems", async () => {
    assert.deepEqual(await problemsOf({ interval: "5m", db: "app:db" }), []);
  });

  test("cron and interval: exactly one of them", async () => {
    const hint = 'give cron (e.g. "*/5 * * * *") or interval (e.g. "5m")';
    assert.deepEqual(await problemsOf({ cron: "* * * * *", interval: "1m", db: "app:db" }), [
      ["E_SCHEMA", "error", "interval", "gives both cron and interval; a schedule has one timetable: keep one of them", hint],
    ]);
    assert.deepEqual(await problemsOf({ db: "app:db" }), [["E_SCHEMA", "error", undefined, "needs cron (a cron expression) or interval (a duration)", hint]]);
  });

  test("an invalid cron expression, time zone or interval is an error; a zone on an interval a warning", async () => {
    const [cron] = await problemsOf({ cron: "61 * * * *", db: "app:db" });
    assert.deepEqual(cron.slice(0, 3), ["E_SCHEMA", "error", "cron"]);
    assert.match(cron[3], /^cron "61 \* \* \* \*" is not a valid cron expression: /);
    assert.deepEqual(await problemsOf({ cron: "0 * * * *", timezone: "Mars/Olympus", db: "app:db" }), [
      ["E_SCHEMA", "error", "timezone", 'timezone "Mars/Olympus" is not an IANA time zone', "e.g. Europe/Paris, America/New_York or UTC"],
    ]);
    assert.deepEqual(await problemsOf({ interval: 0, db: "app:db" }), [["E_SCHEMA", "error", "interval", "interval must be at least 1ms, found 0", 'e.g. "30s" or "5m"']]);
    assert.deepEqual(await problemsOf({ interval: "1m", timezone: "UTC", db: "app:db" }), [
      ["E_SCHEMA", "warning", "timezone", "timezone applies to cron only: an interval ticks at multiples of itself since the Unix epoch, in every zone", "remove timezone, or use cron"],
    ]);
  });

  test("without db, a schedule on a durable queue is warned that processes would each publish every tick", async () => {
    assert.deepEqual(await problemsOf({ interval: "1m" }), [
      [
        "E_SCHEMA",
        "warning",
        "db",
        "has no db: ticks missed while taskrt is stopped are not published, and every taskrt process running it publishes each tick (app:jobs is on queue.driver.sqlite)",
        "set db to a db.sql.* entry that every process shares, e.g. db: app:db (the queue's own database: claim and publish then commit together)",
      ],
    ]);
    assert.deepEqual(await problemsOf({ interval: "1m" }, "app:memory_driver"), []);
  });

  test("queue must be a queue.queue and db a db.sql.* entry", async () => {
    const problems = await problemsOf({ interval: "1m", db: "app:jobs", queue: "app:db" });
    assert.deepEqual(
      problems.map((problem) => problem.slice(0, 4)),
      [
        ["E_REF_KIND", "error", "queue", "queue: app:db is a db.sql.sqlite, expected queue.queue"],
        ["E_REF_KIND", "error", "db", "db: app:jobs is a queue.queue, expected db.sql.*"],
      ],
    );
  });
});
