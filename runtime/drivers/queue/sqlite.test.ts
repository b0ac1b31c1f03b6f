import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import type BetterSqlite3 from "better-sqlite3";
import { queueDriverContract } from "./contract.ts";
import { SqliteQueueDriver, type SharedSqliteDatabase, type SqliteQueueDriverOptions } from "./sqlite.ts";
import { MESSAGES_TABLE } from "./sqlite-schema.ts";
import type { Delivery } from "./driver.ts";
import { SqliteDatabase, type SqliteOptions } from "../sql/sqlite.ts";
import { captureLogger } from "../../../test/support/logs.ts";
import { sleep, waitUntil } from "../../../test/support/wait.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const repositoryRoot = path.resolve(here, "../../..");
const root = mkdtempSync(path.join(tmpdir(), "taskrt-sqlite-queue-"));
const openDatabases: { close(): unknown }[] = [];
after(() => {
  for (const database of openDatabases) database.close();
  rmSync(root, { recursive: true, force: true });
});

let fileCounter = 0;
function freshFile(): string {
  return path.join(root, `case-${++fileCounter}`, "queue.db");
}

type Overrides = Partial<Omit<SqliteQueueDriverOptions, "storage">>;

function driverOptions(storage: SqliteQueueDriverOptions["storage"], overrides: Overrides = {}): SqliteQueueDriverOptions {
  return { id: "app:queue", storage, ackTimeoutMs: 30_000, pollIntervalMs: 1000, commitWindowMs: 0, logger: captureLogger().logger, ...overrides };
}

function fileDriver(file = freshFile(), overrides: Overrides = {}): SqliteQueueDriver {
  return new SqliteQueueDriver(driverOptions({ file, synchronous: "FULL", busyTimeoutMs: 5000 }, overrides));
}

function sharedDriver(database: SharedSqliteDatabase, overrides: Overrides = {}): SqliteQueueDriver {
  return new SqliteQueueDriver(driverOptions({ database }, overrides));
}

/**
 * The app database (the real `db.sql.sqlite` driver) with a `tasks` table of the app's own. Its
 * COMMIT count is how the group-commit tests observe batching: the driver's ticks are transactions
 * of that group commit.
 */
interface AppDatabase {
  database: SqliteDatabase;
  /** Batch COMMITs on the database so far. */
  commits(): number;
  messageCount(queue: string): number;
}

async function openAppDatabase(overrides: Partial<SqliteOptions> = {}): Promise<AppDatabase> {
  const database = new SqliteDatabase({ id: "app:db", file: freshFile(), busyTimeoutMs: 5000, synchronous: "FULL", closeTimeoutMs: 1000, ...overrides });
  await database.open();
  openDatabases.push(database);
  await database.execute("CREATE TABLE tasks (id INTEGER PRIMARY KEY, title TEXT)");
  const connection = database.raw();
  return {
    database,
    commits: () => database.commitCount,
    messageCount: (queue) => (connection.prepare(`SELECT COUNT(*) AS n FROM ${MESSAGES_TABLE} WHERE queue = ?`).get(queue) as { n: number }).n,
  };
}

/** Records deliveries; acks each one when asked to. */
function collect(options: { ack?: boolean } = {}): { deliveries: Delivery[]; onDelivery: (delivery: Delivery) => void } {
  const deliveries: Delivery[] = [];
  return {
    deliveries,
    onDelivery: (delivery) => {
      deliveries.push(delivery);
      if (options.ack) void delivery.ack();
    },
  };
}

async function withStarted(driver: SqliteQueueDriver, run: (driver: SqliteQueueDriver) => Promise<void>): Promise<void> {
  await driver.start();
  try {
    await run(driver);
  } finally {
    await driver.stop();
  }
}

queueDriverContract("sqlite, own file", async () => fileDriver(), { durable: true });
queueDriverContract("sqlite, in the app database", async () => sharedDriver((await openAppDatabase()).database), { durable: true });

describe("sqlite queue driver: storage", () => {
  test("describe() says the driver is durable and where it stores", async () => {
    const file = path.join(root, "described", "queue.db");
    assert.equal(fileDriver(file).describe(), `durable, in ${file}`);
    assert.equal(sharedDriver((await openAppDatabase()).database).describe(), "durable, in app:db");
    const inMemory = fileDriver(":memory:");
    assert.equal(inMemory.durable, false);
    assert.equal(inMemory.describe(), "not durable, in :memory:");
  });

  test("its own file is opened in WAL mode with the configured synchronous level", async () => {
    const file = freshFile();
    const driver = new SqliteQueueDriver(driverOptions({ file, synchronous: "NORMAL", busyTimeoutMs: 5000 }));
    await withStarted(driver, async () => {
      const reader = new Database(file, { readonly: true });
      try {
        assert.equal(reader.pragma("journal_mode", { simple: true }), "wal");
      } finally {
        reader.close();
      }
      const connection = (driver as unknown as { connection: BetterSqlite3.Database }).connection;
      assert.equal(connection.pragma("synchronous", { simple: true }), 1);
      assert.equal(connection.pragma("busy_timeout", { simple: true }), 5000);
    });
  });

  test("a file that cannot be opened fails start with the driver, the path and the fix", async () => {
    const folder = path.join(root, "a-folder");
    mkdirSync(folder, { recursive: true });
    const driver = fileDriver(folder);
    await assert.rejects(driver.start(), {
      code: "E_QUEUE_STORAGE",
      message: `queue driver app:queue cannot open ${folder}: unable to open database file`,
      hint: "check that the path names a writable folder and that the file is an SQLite database",
    });
  });

  test("a table of the same name with another shape fails start with a clear message", async () => {
    const file = freshFile();
    mkdirSync(path.dirname(file), { recursive: true });
    const other = new Database(file);
    other.exec(`CREATE TABLE ${MESSAGES_TABLE} (something TEXT)`);
    other.close();
    await assert.rejects(fileDriver(file).start(), {
      code: "E_QUEUE_STORAGE",
      message: `queue driver app:queue cannot create its table ${MESSAGES_TABLE} in ${file}: no such column: queue`,
    });
  });

  test("a table made by a taskrt before progress existed gets its progress column at start, and keeps its messages", async () => {
    const file = freshFile();
    mkdirSync(path.dirname(file), { recursive: true });
    const old = new Database(file);
    old.exec(`CREATE TABLE ${MESSAGES_TABLE} (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, queue TEXT NOT NULL, body TEXT NOT NULL, headers TEXT,
      priority INTEGER NOT NULL DEFAULT 0, available_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, lease_until INTEGER, lease_owner TEXT,
      last_error TEXT, state TEXT NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'leased', 'dead')), created_at INTEGER NOT NULL)`);
    old.prepare(`INSERT INTO ${MESSAGES_TABLE} (id, queue, body, available_at, created_at) VALUES ('old-1', 'jobs', '"kept"', 0, 0)`).run();
    old.close();
    await withStarted(fileDriver(file), async (driver) => {
      const consumer = collect();
      await driver.consume("jobs", { prefetch: 1 }, consumer.onDelivery);
      await waitUntil(() => consumer.deliveries.length === 1, "the old message");
      assert.equal(consumer.deliveries[0].message.body, "kept");
      await consumer.deliveries[0].progress!(50);
      assert.equal((await driver.listInFlight("jobs", { limit: 1, offset: 0 })).messages[0].progress, 50);
      await consumer.deliveries[0].ack();
    });
  });

  test("a shared database that is not open fails start, naming the database", async () => {
    const { database } = await openAppDatabase();
    await database.close();
    await assert.rejects(sharedDriver(database).start(), {
      code: "E_QUEUE_STORAGE",
      message: "queue driver app:queue cannot use database app:db: database app:db is not open",
      hint: "the database app:db must be started before the queue driver",
    });
  });

  test("the table lives in the app database next to the app's own tables, and stop leaves that database open", async () => {
    const app = await openAppDatabase();
    const { database } = app;
    await withStarted(sharedDriver(database), async (driver) => {
      await driver.publish("jobs", { n: 1 }, {});
    });
    assert.equal(app.messageCount("jobs"), 1);
    assert.deepEqual(await database.query("SELECT COUNT(*) AS n FROM tasks"), [{ n: 0 }]);
  });

  test("messages published just before stop are committed before stop resolves", async () => {
    const file = freshFile();
    const driver = fileDriver(file);
    await driver.start();
    const published = [driver.publish("jobs", 1, {}), driver.publish("jobs", 2, {})];
    await driver.stop();
    const ids = await Promise.all(published);
    const reader = new Database(file, { readonly: true });
    try {
      assert.deepEqual(reader.prepare(`SELECT id FROM ${MESSAGES_TABLE} ORDER BY seq`).pluck().all(), ids);
    } finally {
      reader.close();
    }
  });
});

describe("sqlite queue driver: refusals", () => {
  test("publishing before start is refused", async () => {
    await assert.rejects(fileDriver().publish("jobs", 1, {}), {
      code: "E_QUEUE_STOPPED",
      message: 'queue driver app:queue cannot publish to queue "jobs": it is not started',
      hint: "start app:queue first: give it lifecycle.auto_start: true, or list it in lifecycle.requires of the entry that uses it",
    });
  });

  test("publishing, consuming and reading stats after stop are refused", async () => {
    const driver = fileDriver();
    await driver.start();
    await driver.stop();
    await assert.rejects(driver.publish("jobs", 1, {}), { message: 'queue driver app:queue cannot publish to queue "jobs": it is stopped' });
    await assert.rejects(driver.consume("jobs", { prefetch: 1 }, () => {}), {
      message: 'queue driver app:queue cannot consume from queue "jobs": it is stopped',
    });
    await assert.rejects(driver.stats("jobs"), { message: 'queue driver app:queue cannot read the stats of queue "jobs": it is stopped' });
  });

  test("a body without a JSON form is refused with the reason", async () => {
    await withStarted(fileDriver(), async (driver) => {
      await assert.rejects(driver.publish("jobs", { big: 1n }, {}), {
        code: "E_INVALID_MESSAGE",
        message: 'queue driver app:queue cannot store the message body for queue "jobs": Do not know how to serialize a BigInt',
        hint: "publish JSON values: objects, arrays, strings, numbers, booleans or null",
      });
      await assert.rejects(driver.publish("jobs", () => 1, {}), {
        code: "E_INVALID_MESSAGE",
        message: 'queue driver app:queue cannot store the message body for queue "jobs": a function has no JSON form',
      });
      assert.deepEqual(await driver.stats("jobs"), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
    });
  });

  test("an undefined body is stored and delivered as null", async () => {
    await withStarted(fileDriver(), async (driver) => {
      await driver.publish("jobs", undefined, {});
      const consumer = collect({ ack: true });
      await driver.consume("jobs", { prefetch: 1 }, consumer.onDelivery);
      await waitUntil(() => consumer.deliveries.length === 1, "one delivery");
      assert.equal(consumer.deliveries[0].message.body, null);
    });
  });

  test("a fractional priority, a negative delay and a prefetch below 1 are refused", async () => {
    await withStarted(fileDriver(), async (driver) => {
      await assert.rejects(driver.publish("jobs", 1, {}, { priority: 1.5 }), {
        code: "E_QUEUE_OPTIONS",
        message: 'queue driver app:queue: priority for queue "jobs" must be a whole number, found 1.5',
      });
      await assert.rejects(driver.publish("jobs", 1, {}, { delayMs: -5 }), {
        code: "E_QUEUE_OPTIONS",
        message: 'queue driver app:queue: delay for queue "jobs" must be a number of milliseconds of at least 0, found -5',
      });
      await assert.rejects(driver.consume("jobs", { prefetch: 0 }, () => {}), {
        code: "E_QUEUE_PREFETCH",
        message: 'queue driver app:queue: prefetch for queue "jobs" must be a whole number of at least 1, found 0',
      });
    });
  });

  test("a second settlement of one delivery is refused, naming the first", async () => {
    await withStarted(fileDriver(), async (driver) => {
      const id = await driver.publish("jobs", 1, {});
      const consumer = collect();
      await driver.consume("jobs", { prefetch: 1 }, consumer.onDelivery);
      await waitUntil(() => consumer.deliveries.length === 1, "one delivery");
      await consumer.deliveries[0].bury("bad");
      await assert.rejects(consumer.deliveries[0].release(), {
        code: "E_ALREADY_SETTLED",
        message: `message ${id} of queue "jobs" is already settled (bury); release refused`,
      });
    });
  });

  test("a delivery settled after the driver stopped is refused: stop handed it back to the queue", async () => {
    const file = freshFile();
    const driver = fileDriver(file);
    await driver.start();
    const id = await driver.publish("jobs", 1, {});
    const consumer = collect();
    await driver.consume("jobs", { prefetch: 1 }, consumer.onDelivery);
    await waitUntil(() => consumer.deliveries.length === 1, "one delivery");
    await driver.stop();
    await assert.rejects(consumer.deliveries[0].ack(), {
      code: "E_QUEUE_STOPPED",
      message: `queue driver app:queue cannot ack message ${id} of queue "jobs": it stopped after the delivery, which went back to the queue`,
    });
    await withStarted(fileDriver(file), async (again) => {
      assert.deepEqual(await again.stats("jobs"), { ready: 1, inFlight: 0, delayed: 0, dead: 0 });
      const next = collect({ ack: true });
      await again.consume("jobs", { prefetch: 1 }, next.onDelivery);
      await waitUntil(() => next.deliveries.length === 1, "the message again");
      assert.equal(next.deliveries[0].message.attempts, 1, "a stop counts no attempt");
    });
  });

  test("a write that fails rejects every publish of its batch with the storage error", async () => {
    const app = await openAppDatabase();
    const { database } = app;
    await withStarted(sharedDriver(database), async (driver) => {
      database.raw().pragma("query_only = ON");
      const results = await Promise.allSettled([driver.publish("jobs", 1, {}), driver.publish("jobs", 2, {})]);
      database.raw().pragma("query_only = OFF");
      for (const result of results) {
        assert.equal(result.status, "rejected");
        assert.equal((result as PromiseRejectedResult).reason.code, "E_QUEUE_STORAGE");
        assert.equal((result as PromiseRejectedResult).reason.message, "queue driver app:queue could not write to database app:db: attempt to write a readonly database");
      }
      assert.equal(app.messageCount("jobs"), 0);
      await driver.publish("jobs", 3, {});
      assert.equal(app.messageCount("jobs"), 1);
    });
  });
});

describe("sqlite queue driver: group commit", () => {
  test("publishes made in one turn of the event loop share one commit, and each resolves with its own id", async () => {
    const app = await openAppDatabase();
    const { database } = app;
    await withStarted(sharedDriver(database), async (driver) => {
      const before = app.commits();
      const ids = await Promise.all(Array.from({ length: 100 }, (_, index) => driver.publish("jobs", { index }, {})));
      assert.equal(app.commits() - before, 1);
      assert.equal(new Set(ids).size, 100);
      assert.equal(app.messageCount("jobs"), 100);
    });
  });

  test("with commit_window, publishes within the window share one commit", async () => {
    const app = await openAppDatabase();
    const { database } = app;
    const windowMs = 1000;
    await withStarted(sharedDriver(database, { commitWindowMs: windowMs }), async (driver) => {
      const before = app.commits();
      const openedAt = performance.now();
      const first = driver.publish("jobs", 1, {});
      await sleep(10);
      const second = driver.publish("jobs", 2, {});
      // On a machine busy enough to stall this test for the whole window, the claim cannot be checked.
      const insideWindow = performance.now() - openedAt < windowMs;
      if (insideWindow) assert.equal(app.messageCount("jobs"), 0, "nothing committed inside the window");
      await Promise.all([first, second]);
      if (insideWindow) assert.equal(app.commits() - before, 1);
      assert.equal(app.messageCount("jobs"), 2);
    });
  });

  test("acks of many deliveries share one commit with the next fetch", async () => {
    const app = await openAppDatabase();
    const { database } = app;
    await withStarted(sharedDriver(database), async (driver) => {
      for (let index = 0; index < 20; index++) await driver.publish("jobs", index, {});
      const consumer = collect();
      await driver.consume("jobs", { prefetch: 10 }, consumer.onDelivery);
      await waitUntil(() => consumer.deliveries.length === 10, "ten deliveries");
      const before = app.commits();
      await Promise.all(consumer.deliveries.map((delivery) => delivery.ack()));
      assert.equal(app.commits() - before, 1);
      assert.equal(consumer.deliveries.length, 20, "the same commit leased the next ten");
    });
  });

  test("acks join the batch of the handlers' own writes: one COMMIT covers both", async () => {
    const app = await openAppDatabase();
    const { database } = app;
    await withStarted(sharedDriver(database), async (driver) => {
      for (let index = 0; index < 10; index++) await driver.publish("jobs", index, {});
      const consumer = collect();
      await driver.consume("jobs", { prefetch: 10 }, consumer.onDelivery);
      await waitUntil(() => consumer.deliveries.length === 10, "ten deliveries");
      const before = app.commits();
      // What a worker does: a write of its own outside any transaction, then the runtime's ack.
      await Promise.all(
        consumer.deliveries.map(async (delivery, index) => {
          const write = database.execute("INSERT INTO tasks (title) VALUES (?)", [`task ${index}`]);
          const ack = delivery.ack();
          await Promise.all([write, ack]);
        }),
      );
      assert.equal(app.commits() - before, 1);
      assert.equal(app.messageCount("jobs"), 0);
      assert.deepEqual(await database.query("SELECT COUNT(*) AS n FROM tasks"), [{ n: 10 }]);
    });
  });

  test("a tick waiting for its turn behind an open transaction takes what was asked for meanwhile, and commits with it", async () => {
    // No time bound on the batch: it must not commit just because the handler took a while.
    const app = await openAppDatabase({ batchMaxMs: 60_000 });
    const { database } = app;
    await withStarted(sharedDriver(database), async (driver) => {
      let finishHandler!: () => void;
      const handlerMayFinish = new Promise<void>((resolve) => (finishHandler = resolve));
      const handler = database.transaction(async (tx) => {
        await tx.execute("INSERT INTO tasks (title) VALUES ('handler')");
        await handlerMayFinish;
      });
      const before = app.commits();
      const first = driver.publish("jobs", 1, {});
      await sleep(10);
      const later = [driver.publish("jobs", 2, {}), driver.publish("jobs", 3, {})];
      await sleep(10);
      assert.equal(app.messageCount("jobs"), 0, "the tick waits for the open transaction");
      finishHandler();
      await Promise.all([handler, first, ...later]);
      assert.equal(app.commits() - before, 1, "the handler, the tick and the publishes made while it waited share one COMMIT");
      assert.equal(app.messageCount("jobs"), 3);
    });
  });
});

describe("sqlite queue driver: in the app database", () => {
  test("a publish inside the handler's transaction commits with it", async () => {
    const app = await openAppDatabase();
    const { database } = app;
    await withStarted(sharedDriver(database, { pollIntervalMs: 60_000 }), async (driver) => {
      const consumer = collect({ ack: true });
      await driver.consume("jobs", { prefetch: 5 }, consumer.onDelivery);
      let id = "";
      await database.transaction(async (tx) => {
        await tx.execute("INSERT INTO tasks (title) VALUES (?)", ["first"]);
        id = await driver.publish("jobs", { task: "first" }, {});
      });
      // The consumer is woken by the commit, not by its (one minute) poll.
      await waitUntil(() => consumer.deliveries.length === 1, "the published message");
      assert.equal(consumer.deliveries[0].message.id, id);
    });
  });

  test("a unique publish inside the handler's transaction sees the key held by the transaction's own publish, and a rollback frees it", async () => {
    const app = await openAppDatabase();
    const { database } = app;
    await withStarted(sharedDriver(database), async (driver) => {
      await assert.rejects(
        database.transaction(async () => {
          const first = await driver.publishUnique("jobs", "a", {}, { uniqueKey: "k" });
          assert.equal(first.duplicate, false);
          assert.deepEqual(await driver.publishUnique("jobs", "b", {}, { uniqueKey: "k" }), { id: first.id, duplicate: true });
          throw new Error("handler failed");
        }),
        { message: "handler failed" },
      );
      assert.equal(app.messageCount("jobs"), 0);
      let committed = "";
      await database.transaction(async () => {
        const result = await driver.publishUnique("jobs", "c", {}, { uniqueKey: "k" });
        assert.equal(result.duplicate, false, "the rolled-back key holds nothing");
        committed = result.id;
      });
      assert.deepEqual(await driver.publishUnique("jobs", "d", {}, { uniqueKey: "k" }), { id: committed, duplicate: true });
      assert.equal(app.messageCount("jobs"), 1);
    });
  });

  test("a publish inside a handler's transaction that rolls back leaves no message", async () => {
    const app = await openAppDatabase();
    const { database } = app;
    await withStarted(sharedDriver(database), async (driver) => {
      await assert.rejects(
        database.transaction(async (tx) => {
          await tx.execute("INSERT INTO tasks (title) VALUES (?)", ["doomed"]);
          await driver.publish("jobs", { task: "doomed" }, {});
          throw new Error("handler failed");
        }),
        { message: "handler failed" },
      );
      assert.equal(app.messageCount("jobs"), 0);
      assert.deepEqual(await database.query("SELECT COUNT(*) AS n FROM tasks"), [{ n: 0 }]);
    });
  });

  test("an ack inside the handler's transaction is undone when the transaction rolls back", async () => {
    const app = await openAppDatabase();
    const { database } = app;
    await withStarted(sharedDriver(database), async (driver) => {
      await driver.publish("jobs", 1, {});
      const consumer = collect();
      await driver.consume("jobs", { prefetch: 1 }, consumer.onDelivery);
      await waitUntil(() => consumer.deliveries.length === 1, "one delivery");
      await assert.rejects(
        database.transaction(async () => {
          await consumer.deliveries[0].ack();
          throw new Error("handler failed");
        }),
        { message: "handler failed" },
      );
      assert.equal(app.messageCount("jobs"), 1);
    });
  });

  test("a publish from outside waits for another caller's open transaction and is not part of it", async () => {
    const app = await openAppDatabase();
    const { database } = app;
    await withStarted(sharedDriver(database), async (driver) => {
      let finishHandler!: () => void;
      const handlerMayFinish = new Promise<void>((resolve) => (finishHandler = resolve));
      const handler = database.transaction(async (tx) => {
        await tx.execute("INSERT INTO tasks (title) VALUES (?)", ["rolled back"]);
        await handlerMayFinish;
        throw new Error("handler failed");
      });
      await sleep(5);
      let published = false;
      const publish = driver.publish("jobs", "outside", {}).then(() => (published = true));
      await sleep(30);
      assert.equal(published, false, "the publish waits while the other transaction is open");
      finishHandler();
      await assert.rejects(handler, { message: "handler failed" });
      await publish;
      assert.equal(app.messageCount("jobs"), 1);
      assert.deepEqual(await database.query("SELECT COUNT(*) AS n FROM tasks"), [{ n: 0 }]);
    });
  });
});

describe("sqlite queue driver: rate limits", () => {
  test("two drivers on one file (as two processes would be) share a key's budget: the window is kept in the database", async () => {
    const file = freshFile();
    const first = fileDriver(file, { pollIntervalMs: 20 });
    const second = fileDriver(file, { pollIntervalMs: 20 });
    await first.start();
    await second.start();
    try {
      for (let index = 0; index < 6; index++) await first.publish("jobs", { index }, {});
      const rate = { limit: 3, perMs: 1e12, key: "jobs" };
      const one = collect({ ack: true });
      const two = collect({ ack: true });
      await first.consume("jobs", { prefetch: 10, rates: [rate] }, one.onDelivery);
      await second.consume("jobs", { prefetch: 10, rates: [rate] }, two.onDelivery);
      await waitUntil(() => one.deliveries.length + two.deliveries.length === 3, "3 deliveries across both drivers");
      await sleep(100); // five polls of each driver: one that ignored the other's count would take more
      assert.equal(one.deliveries.length + two.deliveries.length, 3);
      await waitUntil(async () => (await first.stats("jobs")).inFlight === 0, "the acks");
      assert.equal((await first.stats("jobs")).ready, 3);
    } finally {
      await first.stop();
      await second.stop();
    }
  });
});

describe("sqlite queue driver: consuming", () => {
  test("a consumer waiting on an empty queue is woken by a local publish, not its poll", async () => {
    await withStarted(fileDriver(freshFile(), { pollIntervalMs: 60_000 }), async (driver) => {
      const consumer = collect({ ack: true });
      await driver.consume("jobs", { prefetch: 1 }, consumer.onDelivery);
      await sleep(20);
      await driver.publish("jobs", "wake up", {});
      await waitUntil(() => consumer.deliveries.length === 1, "the published message", 2000);
    });
  });

  test("a consumer finds messages another process published by polling", async () => {
    const file = freshFile();
    await withStarted(fileDriver(file, { pollIntervalMs: 20 }), async (driver) => {
      const consumer = collect({ ack: true });
      await driver.consume("jobs", { prefetch: 1 }, consumer.onDelivery);
      await withStarted(fileDriver(file), async (other) => {
        await other.publish("jobs", "from elsewhere", {});
      });
      await waitUntil(() => consumer.deliveries.length === 1, "the message published elsewhere");
      assert.equal(consumer.deliveries[0].message.body, "from elsewhere");
    });
  });

  // The lease would lapse 2.5 times over during the wait; only the extensions (every 200ms) keep it.
  test("a lease is extended while its delivery is unsettled, so nobody else receives it", async () => {
    const file = freshFile();
    // The lease (2 s) is renewed halfway through; watching it renewed three times spans more than
    // two whole leases, whatever the machine's load did to the timers in between.
    await withStarted(fileDriver(file, { ackTimeoutMs: 2000, pollIntervalMs: 15 }), async (holder) => {
      await holder.publish("jobs", "long job", {});
      const first = collect();
      await holder.consume("jobs", { prefetch: 1 }, first.onDelivery);
      await waitUntil(() => first.deliveries.length === 1, "the first delivery");
      const observer = new Database(file, { readonly: true });
      const leaseUntil = observer.prepare<[], { lease_until: number | null }>(`SELECT lease_until FROM ${MESSAGES_TABLE}`);
      await withStarted(fileDriver(file, { ackTimeoutMs: 2000, pollIntervalMs: 15 }), async (other) => {
        const second = collect();
        await other.consume("jobs", { prefetch: 1 }, second.onDelivery);
        const seen = new Set<number | null>([leaseUntil.get()!.lease_until]);
        await waitUntil(() => (seen.add(leaseUntil.get()!.lease_until), seen.size > 3), "the lease to be renewed three times", 30_000);
        observer.close();
        assert.equal(second.deliveries.length, 0);
        assert.deepEqual(await other.stats("jobs"), { ready: 0, inFlight: 1, delayed: 0, dead: 0 });
      });
      await first.deliveries[0].ack();
    });
  });

  test("settling a message whose lease expired and went to another consumer has no effect and is logged", async () => {
    const file = freshFile();
    const { logger, lines } = captureLogger();
    await withStarted(fileDriver(file, { ackTimeoutMs: 30_000, logger: logger.forEntry("app:queue") }), async (driver) => {
      const id = await driver.publish("jobs", 1, {});
      const consumer = collect();
      await driver.consume("jobs", { prefetch: 1 }, consumer.onDelivery);
      await waitUntil(() => consumer.deliveries.length === 1, "one delivery");
      const writer = new Database(file);
      writer.prepare(`UPDATE ${MESSAGES_TABLE} SET lease_owner = 'someone-else'`).run();
      writer.close();
      await consumer.deliveries[0].ack();
      const warning = lines.find((line) => line.level === "warn");
      assert.deepEqual(warning && { msg: warning.msg, entry: warning.entry, queue: warning.queue }, {
        msg: `ack of message ${id} had no effect: its lease expired and it was delivered again`,
        entry: "app:queue",
        queue: "jobs",
      });
      assert.deepEqual(await driver.stats("jobs"), { ready: 0, inFlight: 1, delayed: 0, dead: 0 });
    });
  });

  test("a stored message that is not valid JSON is buried, never handed out", async () => {
    const file = freshFile();
    await withStarted(fileDriver(file, { pollIntervalMs: 20 }), async (driver) => {
      await driver.publish("jobs", "fine", {});
      const writer = new Database(file);
      writer.prepare(`UPDATE ${MESSAGES_TABLE} SET body = '{broken'`).run();
      writer.close();
      const consumer = collect({ ack: true });
      await driver.consume("jobs", { prefetch: 1 }, consumer.onDelivery);
      await waitUntil(() => {
        const row = new Database(file, { readonly: true });
        try {
          return (row.prepare(`SELECT state FROM ${MESSAGES_TABLE}`).pluck().get() as string) === "dead";
        } finally {
          row.close();
        }
      }, "the message to be buried");
      assert.equal(consumer.deliveries.length, 0);
      const reader = new Database(file, { readonly: true });
      try {
        const lastError = reader.prepare(`SELECT last_error FROM ${MESSAGES_TABLE}`).pluck().get() as string;
        assert.match(lastError, /^stored message is not valid JSON: /);
      } finally {
        reader.close();
      }
    });
  });

  test("a consumer callback that throws gets the message again later, as a counted attempt", async () => {
    await withStarted(fileDriver(freshFile(), { pollIntervalMs: 20 }), async (driver) => {
      await driver.publish("jobs", 1, {});
      const seen: Delivery[] = [];
      await driver.consume("jobs", { prefetch: 1 }, (delivery) => {
        seen.push(delivery);
        if (seen.length === 1) throw new Error("callback broke");
        void delivery.ack();
      });
      await waitUntil(() => seen.length === 2, "the second delivery");
      assert.equal(seen[1].message.attempts, 2);
      assert.equal(seen[1].message.headers.x_last_error, "consumer callback threw: callback broke");
    });
  });

  test("a publisher's own timestamp header is kept", async () => {
    await withStarted(fileDriver(), async (driver) => {
      await driver.publish("jobs", 1, { timestamp: 42 });
      const consumer = collect({ ack: true });
      await driver.consume("jobs", { prefetch: 1 }, consumer.onDelivery);
      await waitUntil(() => consumer.deliveries.length === 1, "one delivery");
      assert.equal(consumer.deliveries[0].message.headers.timestamp, 42);
    });
  });
});

describe("sqlite queue driver: dead letters", () => {
  /** Publishes one message, takes its delivery and buries it; resolves with the message id. */
  async function buryOne(driver: SqliteQueueDriver, queue: string, error: string): Promise<string> {
    const id = await driver.publish(queue, { job: "poison" }, { source: "test" });
    const consumer = collect();
    const subscription = await driver.consume(queue, { prefetch: 1 }, consumer.onDelivery);
    await waitUntil(() => consumer.deliveries.length === 1, "one delivery");
    await subscription.cancel();
    await consumer.deliveries[0].bury(error);
    return id;
  }

  test("a dead letter survives reopening the database and can be retried after", async () => {
    const file = freshFile();
    let id = "";
    const before = Date.now();
    await withStarted(fileDriver(file), async (driver) => {
      id = await buryOne(driver, "jobs", "fatal");
    });
    await withStarted(fileDriver(file, { pollIntervalMs: 60_000 }), async (driver) => {
      const { messages, total } = await driver.listDead("jobs", { limit: 10, offset: 0 });
      assert.equal(total, 1);
      assert.deepEqual(
        { id: messages[0].id, body: messages[0].body, source: messages[0].headers.source, attempts: messages[0].attempts, error: messages[0].error },
        { id, body: { job: "poison" }, source: "test", attempts: 1, error: "fatal" },
      );
      assert.ok(messages[0].diedAt.getTime() >= before && messages[0].diedAt.getTime() <= Date.now());
      assert.equal(await driver.retryDead("jobs", id), true);
      const consumer = collect({ ack: true });
      await driver.consume("jobs", { prefetch: 1 }, consumer.onDelivery);
      await waitUntil(() => consumer.deliveries.length === 1, "the retried message", 2000);
      assert.equal(consumer.deliveries[0].message.id, id);
      assert.equal(consumer.deliveries[0].message.attempts, 1);
    });
  });

  test("a retried dead letter wakes a waiting consumer at once, not at its poll", async () => {
    await withStarted(fileDriver(freshFile(), { pollIntervalMs: 60_000 }), async (driver) => {
      const id = await buryOne(driver, "jobs", "fatal");
      const consumer = collect({ ack: true });
      await driver.consume("jobs", { prefetch: 1 }, consumer.onDelivery);
      await sleep(20);
      assert.equal(consumer.deliveries.length, 0);
      assert.equal(await driver.retryDead("jobs", id), true);
      await waitUntil(() => consumer.deliveries.length === 1, "the retried message", 2000);
      assert.equal(consumer.deliveries[0].message.id, id);
    });
  });

  test("in the app database, a retry inside a caller's transaction is undone by its rollback and delivered at its COMMIT", async () => {
    const { database } = await openAppDatabase();
    await withStarted(sharedDriver(database, { pollIntervalMs: 60_000 }), async (driver) => {
      const id = await buryOne(driver, "jobs", "fatal");
      await assert.rejects(
        database.transaction(async () => {
          assert.equal(await driver.retryDead("jobs", id), true);
          throw new Error("handler failed");
        }),
        { message: "handler failed" },
      );
      assert.equal((await driver.listDead("jobs", { limit: 10, offset: 0 })).total, 1);
      const consumer = collect({ ack: true });
      await driver.consume("jobs", { prefetch: 1 }, consumer.onDelivery);
      await sleep(20);
      await database.transaction(async (tx) => {
        await tx.execute("INSERT INTO tasks (title) VALUES (?)", ["retried"]);
        assert.equal(await driver.retryDead("jobs", id), true);
      });
      await waitUntil(() => consumer.deliveries.length === 1, "the retried message", 2000);
      assert.equal(consumer.deliveries[0].message.id, id);
    });
  });

  test("a message buried because it was not valid JSON is listed with its stored text", async () => {
    const file = freshFile();
    await withStarted(fileDriver(file, { pollIntervalMs: 20 }), async (driver) => {
      const id = await driver.publish("jobs", "fine", {});
      const writer = new Database(file);
      writer.prepare(`UPDATE ${MESSAGES_TABLE} SET body = '{broken'`).run();
      writer.close();
      await driver.consume("jobs", { prefetch: 1 }, collect().onDelivery);
      let page = await driver.listDead("jobs", { limit: 10, offset: 0 });
      const deadline = Date.now() + 2000;
      while (page.total === 0 && Date.now() < deadline) {
        await sleep(5);
        page = await driver.listDead("jobs", { limit: 10, offset: 0 });
      }
      assert.equal(page.total, 1);
      assert.equal(page.messages[0].id, id);
      assert.equal(page.messages[0].body, "{broken");
      assert.match(page.messages[0].error, /^stored message is not valid JSON: /);
    });
  });

  test("listing, retrying and discarding dead letters before start are refused", async () => {
    const driver = fileDriver();
    await assert.rejects(driver.listDead("jobs", { limit: 1, offset: 0 }), {
      code: "E_QUEUE_STOPPED",
      message: 'queue driver app:queue cannot list the dead messages of queue "jobs": it is not started',
    });
    await assert.rejects(driver.retryDead("jobs", "m-1"), { message: 'queue driver app:queue cannot retry dead message m-1 of queue "jobs": it is not started' });
    await assert.rejects(driver.discardDead("jobs", "m-1"), { message: 'queue driver app:queue cannot discard dead message m-1 of queue "jobs": it is not started' });
  });
});

describe("sqlite queue driver: crashes", () => {
  const script = path.join(root, "child.mts");
  writeFileSync(
    script,
    `import { SqliteQueueDriver } from ${JSON.stringify(path.join(here, "sqlite.ts"))};
import { createLogger } from ${JSON.stringify(path.join(repositoryRoot, "runtime/logger.ts"))};
const [mode, file, argument] = process.argv.slice(2);
const driver = new SqliteQueueDriver({
  id: "app:queue",
  storage: { file, synchronous: "FULL", busyTimeoutMs: 5000 },
  ackTimeoutMs: mode === "lease" ? Number(argument) : 30000,
  pollIntervalMs: 20,
  commitWindowMs: 0,
  logger: createLogger({ level: "error", format: "json" }),
});
await driver.start();
if (mode === "publish") {
  const ids = await Promise.all(Array.from({ length: Number(argument) }, (_, index) => driver.publish("jobs", { index }, {})));
  process.stdout.write(JSON.stringify(ids) + "\\n");
} else {
  await driver.consume("jobs", { prefetch: 1 }, (delivery) => process.stdout.write(JSON.stringify(delivery.message) + "\\n"));
}
setInterval(() => {}, 1000);
`,
  );

  interface Child {
    /** The first line the child printed. */
    line: string;
    /** Sends `signal`; for SIGKILL, resolves once the child is gone. */
    signal(signal: "SIGKILL" | "SIGSTOP"): Promise<void>;
  }
  const children = new Set<ReturnType<typeof spawn>>();
  after(() => {
    for (const child of children) child.kill("SIGKILL");
  });

  /** Runs the child until it prints its first line. */
  async function startChild(...args: string[]): Promise<Child> {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: repositoryRoot, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let output = "";
    let errors = "";
    child.stderr.on("data", (chunk: Buffer) => (errors += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const newline = output.indexOf("\n");
        if (newline >= 0) resolve(output.slice(0, newline));
      });
      void exited.then(() => reject(new Error(`child exited before printing: ${errors}`)));
    });
    return {
      line,
      signal: async (signal) => {
        child.kill(signal);
        if (signal !== "SIGKILL") return;
        assert.equal(await exited, "SIGKILL");
        children.delete(child);
      },
    };
  }

  /** Runs the child until it prints its first line, then kills it with SIGKILL; resolves with that line. */
  async function runAndKill(...args: string[]): Promise<string> {
    const child = await startChild(...args);
    await child.signal("SIGKILL");
    return child.line;
  }

  /** The lock files in the owners folder beside `file`: one per live process using the queue. */
  function ownerLocks(file: string): string[] {
    return readdirSync(`${file}.owners`).filter((name) => name.endsWith(".lock"));
  }

  test("every publish that resolved survives a SIGKILL right after (synchronous FULL)", async () => {
    const file = freshFile();
    mkdirSync(path.dirname(file), { recursive: true });
    const ids = JSON.parse(await runAndKill("publish", file, "500")) as string[];
    assert.equal(ids.length, 500);
    await withStarted(fileDriver(file), async (driver) => {
      assert.deepEqual(await driver.stats("jobs"), { ready: 500, inFlight: 0, delayed: 0, dead: 0 });
    });
    const reader = new Database(file, { readonly: true });
    try {
      assert.deepEqual(new Set(reader.prepare(`SELECT id FROM ${MESSAGES_TABLE}`).pluck().all()), new Set(ids));
    } finally {
      reader.close();
    }
  });

  test("a message leased by a process that hangs (alive, holding its lock) is delivered again after its lease expires, as attempt 2", async () => {
    const file = freshFile();
    let id = "";
    await withStarted(fileDriver(file), async (driver) => {
      id = await driver.publish("jobs", { job: "survives" }, { source: "test" });
    });
    const child = await startChild("lease", file, "300");
    // Stopped, not killed: its lease is no longer extended, but its process (and lock) lives on.
    await child.signal("SIGSTOP");
    const leased = JSON.parse(child.line) as { id: string; attempts: number };
    assert.deepEqual({ id: leased.id, attempts: leased.attempts }, { id, attempts: 1 });
    await withStarted(fileDriver(file, { pollIntervalMs: 20 }), async (driver) => {
      assert.equal((await driver.stats("jobs")).inFlight + (await driver.stats("jobs")).ready, 1);
      const consumer = collect({ ack: true });
      await driver.consume("jobs", { prefetch: 1 }, consumer.onDelivery);
      await waitUntil(() => consumer.deliveries.length === 1, "the redelivery");
      const { message } = consumer.deliveries[0];
      assert.equal(message.id, id);
      assert.equal(message.attempts, 2);
      assert.deepEqual(message.body, { job: "survives" });
      assert.equal(message.headers.source, "test");
      assert.equal(message.headers.x_last_error, "lease expired before the message was settled");
    });
    await child.signal("SIGKILL");
  });

  test("a restarted process takes back the leases of a process that was killed at once, not after ack_timeout", async () => {
    const file = freshFile();
    let ids: string[] = [];
    await withStarted(fileDriver(file), async (driver) => {
      ids = await Promise.all([driver.publish("jobs", { job: 1 }, {}), driver.publish("jobs", { job: 2 }, {})]);
    });
    // The child leases one message (prefetch 1) for a minute and is killed holding it.
    const leased = JSON.parse(await runAndKill("lease", file, "60000")) as { id: string };
    const { logger, lines } = captureLogger();
    await withStarted(fileDriver(file, { ackTimeoutMs: 60_000, logger }), async (driver) => {
      const consumer = collect({ ack: true });
      await driver.consume("jobs", { prefetch: 2 }, consumer.onDelivery);
      // Far less than the minute the dead process's lease would have lasted.
      await waitUntil(() => consumer.deliveries.length === 2, "both messages, the killed process's one included", 20_000);
      const redelivered = consumer.deliveries.find((delivery) => delivery.message.id === leased.id)!;
      assert.deepEqual(new Set(consumer.deliveries.map((delivery) => delivery.message.id)), new Set(ids));
      assert.equal(redelivered.message.attempts, 2, "the attempt the killed process used stays counted");
      assert.equal(redelivered.message.headers.x_last_error, "the process that held the lease died before the message was settled");
      // The dead process's lock file went with its leases; the one left is this process's own.
      assert.equal(ownerLocks(file).length, 1);
      const taken = lines.filter((line) => line.msg.startsWith("took back"));
      assert.deepEqual(
        taken.map((line) => [line.level, line.msg, line.queue]),
        [["info", "took back 1 leased message from a process that died, without waiting for ack_timeout", "jobs"]],
      );
    });
    assert.deepEqual(ownerLocks(file), [], "a stopped driver deletes its lock file");
  });

  test("a live process's leases are respected by a sibling on the same file, and taken back as soon as it is killed", async () => {
    const file = freshFile();
    let leasedId = "";
    await withStarted(fileDriver(file), async (driver) => {
      leasedId = await driver.publish("jobs", { job: "held by the child" }, {});
    });
    const child = await startChild("lease", file, "60000");
    assert.equal((JSON.parse(child.line) as { id: string }).id, leasedId);
    await withStarted(fileDriver(file, { ackTimeoutMs: 60_000, pollIntervalMs: 20 }), async (driver) => {
      const consumer = collect({ ack: true });
      await driver.consume("jobs", { prefetch: 5 }, consumer.onDelivery);
      // Delivered after some ten polls of 20ms, each of which checked the child's lock.
      await driver.publish("jobs", { job: "marker" }, {}, { delayMs: 200 });
      await waitUntil(() => consumer.deliveries.length === 1, "the delayed marker", 20_000);
      assert.deepEqual(consumer.deliveries[0].message.body, { job: "marker" }, "the live child's message stayed with the child");
      assert.equal(ownerLocks(file).length, 2, "the child's lock file and this process's");

      await child.signal("SIGKILL");
      await waitUntil(() => consumer.deliveries.length === 2, "the killed child's message", 20_000);
      assert.equal(consumer.deliveries[1].message.id, leasedId);
      assert.equal(consumer.deliveries[1].message.attempts, 2);
    });
  });

  test("two drivers of one process on one file share one owner and never take each other's leases", async () => {
    const file = freshFile();
    await withStarted(fileDriver(file), async (holder) => {
      const held = collect();
      await holder.consume("jobs", { prefetch: 1 }, held.onDelivery);
      const heldId = await holder.publish("jobs", { job: "held" }, {});
      await waitUntil(() => held.deliveries.length === 1, "the holder's delivery");
      await withStarted(fileDriver(file, { pollIntervalMs: 20 }), async (sibling) => {
        const consumer = collect({ ack: true });
        await sibling.consume("jobs", { prefetch: 5 }, consumer.onDelivery);
        await sibling.publish("jobs", { job: "marker" }, {}, { delayMs: 200 });
        await waitUntil(() => consumer.deliveries.length === 1, "the delayed marker", 20_000);
        assert.deepEqual(consumer.deliveries[0].message.body, { job: "marker" });
        assert.equal(ownerLocks(file).length, 1, "one lock file for the process");
      });
      // The sibling's stop left the process's lock to the holder, which can still settle.
      await held.deliveries[0].ack();
      assert.equal(held.deliveries[0].message.id, heldId);
      assert.deepEqual(await holder.stats("jobs"), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
      assert.equal(ownerLocks(file).length, 1);
    });
  });

  test("a lease taken before owners had locks (an older taskrt) is left to expire, never taken back early", async () => {
    const file = freshFile();
    let oldId = "";
    await withStarted(fileDriver(file), async (driver) => {
      oldId = await driver.publish("jobs", { job: "leased by an older version" }, {});
    });
    const database = new Database(file);
    database
      .prepare(`UPDATE ${MESSAGES_TABLE} SET state = 'leased', attempts = 1, lease_owner = 'Ab3dE_gh-J:1', lease_until = ? WHERE id = ?`)
      .run(Date.now() + 60_000, oldId);
    database.close();
    await withStarted(fileDriver(file, { pollIntervalMs: 20 }), async (driver) => {
      const consumer = collect();
      await driver.consume("jobs", { prefetch: 5 }, consumer.onDelivery);
      await driver.publish("jobs", { job: "marker" }, {}, { delayMs: 200 });
      await waitUntil(() => consumer.deliveries.length === 1, "the delayed marker", 20_000);
      assert.deepEqual(consumer.deliveries[0].message.body, { job: "marker" });
      await consumer.deliveries[0].ack();
      assert.deepEqual(await driver.stats("jobs"), { ready: 0, inFlight: 1, delayed: 0, dead: 0 });
    });
  });

  test("an in-memory queue keeps no owner lock", async () => {
    const directory = mkdtempSync(path.join(root, "memory-"));
    const previous = process.cwd();
    process.chdir(directory);
    try {
      await withStarted(fileDriver(":memory:"), async (driver) => {
        await driver.publish("jobs", {}, {});
        assert.deepEqual(readdirSync(directory), []);
      });
    } finally {
      process.chdir(previous);
    }
  });

  test("a driver that cannot create its owners folder does not start, and says where and why", async () => {
    const file = freshFile();
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(`${file}.owners`, "not a folder");
    const driver = fileDriver(file);
    await assert.rejects(driver.start(), {
      code: "E_QUEUE_STORAGE",
      message: `queue driver app:queue cannot take its owner lock in ${file}.owners: EEXIST: file already exists, mkdir '${file}.owners'`,
      hint: "the folder beside the database must be writable: a lock file there tells other processes sharing the queue that this one is alive",
    });
    await assert.rejects(driver.publish("jobs", {}, {}), { code: "E_QUEUE_STOPPED" });
  });
});
