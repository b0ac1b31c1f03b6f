import { after, afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { queueDriverContract } from "./contract.ts";
import { PostgresQueueDriver, type PostgresQueueDriverOptions } from "./postgres.ts";
import { MESSAGES_TABLE } from "./postgres-schema.ts";
import type { Delivery } from "./driver.ts";
import { PostgresDatabase } from "../sql/postgres.ts";
import { captureLogger } from "../../../test/support/logs.ts";
import { sleep, waitUntil } from "../../../test/support/wait.ts";
import { LOCAL_POSTGRES, serviceSkip } from "../../../test/support/services.ts";

const skip = await serviceSkip("postgres", LOCAL_POSTGRES.host, LOCAL_POSTGRES.port);
/** Every driver of this file gets a schema of its own (the database's search_path), dropped at the end. */
const RUN = `taskrt_pg_queue_${process.pid}`;
let schemaCounter = 0;
const schemas: string[] = [];
const databases: PostgresDatabase[] = [];
let admin: pg.Pool | undefined;

function adminPool(): pg.Pool {
  admin ??= new pg.Pool({ host: LOCAL_POSTGRES.host, port: LOCAL_POSTGRES.port, user: LOCAL_POSTGRES.user, database: LOCAL_POSTGRES.database, max: 2 });
  return admin;
}

let contractDatabase: Promise<PostgresDatabase> | undefined;

// Each test's databases close after it: pools left open hold more connections than the server allows.
afterEach(async () => {
  const shared = contractDatabase && (await contractDatabase);
  for (const database of databases.splice(0)) {
    if (database === shared) databases.push(database);
    else await database.close();
  }
});

after(async () => {
  for (const database of databases) await database.close();
  if (!admin) return;
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

/** An open database on a fresh schema (or on `schema`, shared with other drivers: other "processes"). */
async function openDatabase(schema?: string): Promise<{ database: PostgresDatabase; schema: string }> {
  if (schema === undefined) {
    schema = `${RUN}_${++schemaCounter}`;
    schemas.push(schema);
    await adminPool().query(`CREATE SCHEMA ${schema}`);
  }
  const database = new PostgresDatabase({
    id: "app:db",
    connection: () => ({
      host: LOCAL_POSTGRES.host,
      port: LOCAL_POSTGRES.port,
      database: LOCAL_POSTGRES.database,
      user: LOCAL_POSTGRES.user,
      ssl: false,
      searchPath: schema,
      connectTimeoutMs: 5000,
    }),
    pool: { maxOpen: 4, maxIdle: 4, maxLifetimeMs: 0 },
    closeTimeoutMs: 2000,
  });
  await database.open();
  databases.push(database);
  return { database, schema };
}

type Overrides = Partial<Omit<PostgresQueueDriverOptions, "database">>;

function makeDriver(database: PostgresDatabase, overrides: Overrides = {}): PostgresQueueDriver {
  return new PostgresQueueDriver({ id: "app:queue", database, ackTimeoutMs: 30_000, pollIntervalMs: 1000, logger: captureLogger().logger, ...overrides });
}

async function withStarted<T>(driver: PostgresQueueDriver, run: (driver: PostgresQueueDriver) => Promise<T>): Promise<T> {
  await driver.start();
  try {
    return await run(driver);
  } finally {
    await driver.stop();
  }
}

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

async function messageCount(schema: string, queue: string): Promise<number> {
  const { rows } = await adminPool().query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${schema}.${MESSAGES_TABLE} WHERE queue = $1`, [queue]);
  return Number(rows[0].n);
}

describe("postgres queue driver", { skip }, () => {
  // One database for the whole contract (its queue names never repeat): a pool per test would
  // hold more connections than the server allows once the capability tests run too.
  queueDriverContract("postgres", async () => makeDriver(await (contractDatabase ??= openDatabase().then(({ database }) => database))), { durable: true });

  describe("storage", () => {
    test("describe() names the database; the table lives in the database's schema beside the app's tables", async () => {
      const { database, schema } = await openDatabase();
      const driver = makeDriver(database);
      assert.equal(driver.describe(), "durable, in app:db");
      await withStarted(driver, async () => {
        await driver.publish("jobs", { n: 1 }, {});
        assert.equal(await messageCount(schema, "jobs"), 1);
      });
      assert.deepEqual(await database.query("SELECT 1 AS still_open"), [{ still_open: 1 }], "stop leaves the database open");
    });

    test("a database that is not open fails start, naming the driver and the database", async () => {
      const { database } = await openDatabase();
      await database.close();
      const driver = makeDriver(database);
      await assert.rejects(driver.start(), (error: Error & { code?: string }) => {
        assert.equal(error.code, "E_QUEUE_STORAGE");
        assert.match(error.message, /^queue driver app:queue cannot create its table taskrt_queue_messages in database app:db: database app:db is not open/);
        return true;
      });
    });

    test("publishing before start and after stop is refused; a fractional priority and a negative delay are refused", async () => {
      const { database } = await openDatabase();
      const driver = makeDriver(database);
      await assert.rejects(driver.publish("jobs", 1, {}), /queue driver app:queue cannot publish to queue "jobs": it is not started/);
      await withStarted(driver, async () => {
        await assert.rejects(driver.publish("jobs", 1, {}, { priority: 1.5 }), /priority for queue "jobs" must be a whole number, found 1.5/);
        await assert.rejects(driver.publish("jobs", 1, {}, { delayMs: -1 }), /delay for queue "jobs" must be a number of milliseconds of at least 0, found -1/);
        await assert.rejects(driver.publish("jobs", 1n, {}), /cannot store the message body for queue "jobs": Do not know how to serialize a BigInt/);
      });
      await assert.rejects(driver.publish("jobs", 1, {}), /cannot publish to queue "jobs": it is stopped/);
    });

    test("two drivers starting together on an empty schema both create what they need", async () => {
      const { database, schema } = await openDatabase();
      const { database: other } = await openDatabase(schema);
      const drivers = [makeDriver(database), makeDriver(other)];
      await Promise.all(drivers.map((driver) => driver.start()));
      try {
        await drivers[0].publish("jobs", "a", {});
        assert.deepEqual(await drivers[1].stats("jobs"), { ready: 1, inFlight: 0, delayed: 0, dead: 0 });
      } finally {
        await Promise.all(drivers.map((driver) => driver.stop()));
      }
    });
  });

  describe("in the caller's transaction", () => {
    test("a publish inside a transaction commits with its rows, and wakes an idle consumer of another process at the COMMIT", async () => {
      const { database, schema } = await openDatabase();
      const { database: otherProcess } = await openDatabase(schema);
      await database.execute("CREATE TABLE tasks (id TEXT PRIMARY KEY)");
      // A poll an hour away: only the notification can wake the consumer.
      const publisher = makeDriver(database, { pollIntervalMs: 3_600_000 });
      const consumer = makeDriver(otherProcess, { pollIntervalMs: 3_600_000 });
      await withStarted(publisher, () =>
        withStarted(consumer, async () => {
          const received = collect({ ack: true });
          await consumer.consume("tasks", { prefetch: 5 }, received.onDelivery);
          await sleep(50);
          let id = "";
          await database.transaction(async (tx) => {
            await tx.execute("INSERT INTO tasks (id) VALUES (?)", ["t-1"]);
            id = await publisher.publish("tasks", { task: "t-1" }, {});
            assert.equal(await messageCount(schema, "tasks"), 0, "not visible outside the transaction before COMMIT");
          });
          await waitUntil(() => received.deliveries.length === 1, "the delivery after COMMIT");
          assert.equal(received.deliveries[0].message.id, id);
          assert.deepEqual(await database.query("SELECT id FROM tasks"), [{ id: "t-1" }]);
        }),
      );
    });

    test("a publish inside a transaction that rolls back leaves no message", async () => {
      const { database, schema } = await openDatabase();
      const driver = makeDriver(database);
      await withStarted(driver, async () => {
        await assert.rejects(
          database.transaction(async () => {
            await driver.publish("tasks", { task: 1 }, {});
            throw new Error("handler failed");
          }),
          /handler failed/,
        );
        assert.equal(await messageCount(schema, "tasks"), 0);
      });
    });

    test("an ack inside a transaction is undone when the transaction rolls back: the message is still held", async () => {
      const { database } = await openDatabase();
      const driver = makeDriver(database);
      await withStarted(driver, async () => {
        await driver.publish("tasks", "job", {});
        const received = collect();
        await driver.consume("tasks", { prefetch: 1 }, received.onDelivery);
        await waitUntil(() => received.deliveries.length === 1, "the delivery");
        await assert.rejects(
          database.transaction(async () => {
            await received.deliveries[0].ack();
            throw new Error("handler failed after its ack");
          }),
          /handler failed after its ack/,
        );
        assert.deepEqual(await driver.stats("tasks"), { ready: 0, inFlight: 1, delayed: 0, dead: 0 });
      });
    });
  });

  describe("queue features", () => {
    test("a table made before the queue features gets the progress column and their tables at start, and its messages keep flowing", async () => {
      const { database, schema } = await openDatabase();
      const admin = adminPool();
      await admin.query(`CREATE TABLE ${schema}.${MESSAGES_TABLE} (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE, queue TEXT NOT NULL, body TEXT NOT NULL, headers TEXT,
        priority INTEGER NOT NULL DEFAULT 0, available_at BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, lease_until BIGINT, lease_owner TEXT,
        last_error TEXT, state TEXT NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'leased', 'dead')), created_at BIGINT NOT NULL)`);
      await admin.query(`INSERT INTO ${schema}.${MESSAGES_TABLE} (id, queue, body, available_at, created_at) VALUES ('old-1', 'jobs', '"from before"', 0, 0)`);
      const driver = makeDriver(database);
      await withStarted(driver, async () => {
        const { rows } = await admin.query<{ table_name: string; column_name: string }>(
          "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = $1 AND (column_name = 'progress' OR table_name <> $2) ORDER BY 1, 2",
          [schema, MESSAGES_TABLE],
        );
        assert.deepEqual(new Set(rows.map((row) => row.table_name)), new Set([MESSAGES_TABLE, "taskrt_queue_state", "taskrt_queue_rate_windows", "taskrt_queue_unique_keys"]));
        const received = collect();
        await driver.consume("jobs", { prefetch: 1 }, received.onDelivery);
        await waitUntil(() => received.deliveries.length === 1, "the message published before the upgrade");
        const [delivery] = received.deliveries;
        assert.equal(delivery.message.body, "from before");
        await delivery.progress!(30);
        assert.equal((await driver.listInFlight("jobs", { limit: 1, offset: 0 })).messages[0].progress, 30);
        await delivery.ack();
      });
    });

    test("a resume in one process reaches an idle consumer of another at once, not at its poll", async () => {
      const { database, schema } = await openDatabase();
      const { database: otherProcess } = await openDatabase(schema);
      const consumer = makeDriver(database, { pollIntervalMs: 3_600_000 });
      const operator = makeDriver(otherProcess, { pollIntervalMs: 3_600_000 });
      await withStarted(consumer, () =>
        withStarted(operator, async () => {
          await operator.pause("jobs");
          const received = collect({ ack: true });
          await consumer.consume("jobs", { prefetch: 2 }, received.onDelivery);
          await operator.publish("jobs", "held", {});
          await sleep(200);
          assert.equal(received.deliveries.length, 0, "delivered while paused");
          assert.equal(await consumer.isPaused("jobs"), true, "the pause is seen by every process");
          await operator.resume("jobs");
          await waitUntil(() => received.deliveries.length === 1, "the delivery after the other process resumed");
        }),
      );
    });

    test("processes publishing one key at once store one message, and every publish names it", async () => {
      const { database, schema } = await openDatabase();
      const { database: otherProcess } = await openDatabase(schema);
      const one = makeDriver(database);
      const two = makeDriver(otherProcess);
      await withStarted(one, () =>
        withStarted(two, async () => {
          const publishes = Array.from({ length: 20 }, (_, index) => (index % 2 === 0 ? one : two).publishUnique("jobs", index, {}, { uniqueKey: "nightly" }));
          const results = await Promise.all(publishes);
          assert.equal(results.filter((result) => !result.duplicate).length, 1);
          assert.equal(new Set(results.map((result) => result.id)).size, 1);
          assert.equal(await messageCount(schema, "jobs"), 1);
        }),
      );
    });

    test("consumers of two processes sharing a rate key share its budget", async () => {
      const { database, schema } = await openDatabase();
      const { database: otherProcess } = await openDatabase(schema);
      const one = makeDriver(database);
      const two = makeDriver(otherProcess);
      await withStarted(one, () =>
        withStarted(two, async () => {
          for (let index = 0; index < 6; index++) await one.publish("jobs", index, {});
          const rates = [{ limit: 3, perMs: 1e12, key: "jobs" }];
          const received = collect({ ack: true });
          await one.consume("jobs", { prefetch: 5, rates }, received.onDelivery);
          await two.consume("jobs", { prefetch: 5, rates }, received.onDelivery);
          await waitUntil(() => received.deliveries.length === 3, "3 deliveries under the shared rate");
          await sleep(200);
          assert.equal(received.deliveries.length, 3, "more than the shared budget");
          await waitUntil(async () => (await one.stats("jobs")).inFlight === 0, "the acks");
          assert.deepEqual(await one.stats("jobs"), { ready: 3, inFlight: 0, delayed: 0, dead: 0 });
        }),
      );
    });

    test("progress reported inside the handler's transaction is undone when it rolls back, and kept when it commits", async () => {
      const { database } = await openDatabase();
      const driver = makeDriver(database);
      await withStarted(driver, async () => {
        await driver.publish("tasks", "job", {});
        const received = collect();
        await driver.consume("tasks", { prefetch: 1 }, received.onDelivery);
        await waitUntil(() => received.deliveries.length === 1, "the delivery");
        const [delivery] = received.deliveries;
        const progress = async () => (await driver.listInFlight("tasks", { limit: 1, offset: 0 })).messages[0].progress;
        await assert.rejects(
          database.transaction(async () => {
            await delivery.progress!(50);
            throw new Error("handler failed");
          }),
          /handler failed/,
        );
        assert.equal(await progress(), undefined);
        await database.transaction(() => delivery.progress!({ done: 1 }));
        assert.deepEqual(await progress(), { done: 1 });
        await delivery.ack();
      });
    });
  });

  describe("several processes", () => {
    test("an idle consumer is woken by another process's publish at once, not by its poll", async () => {
      const { database, schema } = await openDatabase();
      const { database: otherProcess } = await openDatabase(schema);
      const consumer = makeDriver(database, { pollIntervalMs: 3_600_000 });
      const publisher = makeDriver(otherProcess, { pollIntervalMs: 3_600_000 });
      await withStarted(consumer, () =>
        withStarted(publisher, async () => {
          const received = collect({ ack: true });
          await consumer.consume("jobs", { prefetch: 2 }, received.onDelivery);
          await sleep(50);
          for (let index = 0; index < 3; index++) await publisher.publish("jobs", { index }, {});
          await waitUntil(() => received.deliveries.length === 3, "three deliveries");
          assert.deepEqual(received.deliveries.map((delivery) => delivery.message.body), [{ index: 0 }, { index: 1 }, { index: 2 }]);
        }),
      );
    });

    test("consumers of three processes on one queue receive each of 300 messages exactly once", async () => {
      const { database, schema } = await openDatabase();
      const others = [await openDatabase(schema), await openDatabase(schema)];
      const drivers = [database, ...others.map((other) => other.database)].map((db) => makeDriver(db));
      await Promise.all(drivers.map((driver) => driver.start()));
      try {
        const seen: string[] = [];
        for (const driver of drivers) {
          await driver.consume("jobs", { prefetch: 7 }, (delivery) => {
            seen.push(delivery.message.id);
            void delivery.ack();
          });
        }
        const published: string[] = [];
        for (let index = 0; index < 300; index++) published.push(await drivers[index % 3].publish("jobs", { index }, {}));
        await waitUntil(() => seen.length >= 300, "300 deliveries", 20_000);
        await waitUntil(async () => (await messageCount(schema, "jobs")) === 0, "every ack committed");
        assert.deepEqual([...seen].sort(), [...published].sort());
      } finally {
        await Promise.all(drivers.map((driver) => driver.stop()));
      }
    });

    test("the leases of a process that died are taken back when another starts consuming, not after ack_timeout", async () => {
      const { database, schema } = await openDatabase();
      const { database: survivorDatabase } = await openDatabase(schema);
      const victimLog = captureLogger();
      const victim = makeDriver(database, { ackTimeoutMs: 3_600_000, logger: victimLog.logger });
      await victim.start();
      const id = await victim.publish("jobs", "work", {});
      const held = collect();
      await victim.consume("jobs", { prefetch: 1 }, held.onDelivery);
      await waitUntil(() => held.deliveries.length === 1, "the victim's delivery");
      // The process dies: its session ends (and its advisory lock with it), nothing is handed back.
      await (victim as unknown as { listener: { close(): Promise<void> } }).listener.close();

      const { logger, lines } = captureLogger();
      const survivor = makeDriver(survivorDatabase, { ackTimeoutMs: 3_600_000, logger });
      try {
        await withStarted(survivor, async () => {
          const received = collect({ ack: true });
          await survivor.consume("jobs", { prefetch: 1 }, received.onDelivery);
          await waitUntil(() => received.deliveries.length === 1, "the redelivery");
          const { message } = received.deliveries[0];
          assert.equal(message.id, id);
          assert.equal(message.attempts, 2);
          assert.equal(message.headers.x_last_error, "the process that held the lease died before the message was settled");
          // Whoever looked first took it back (the victim's own periodic check may still have been due).
          assert.ok([...lines, ...victimLog.lines].some((line) => line.msg === "took back the leases of a process that died" && line.messages === 1));
        });
      } finally {
        await victim.stop();
      }
    });

    test("a live process's leases are left alone by the others", async () => {
      const { database, schema } = await openDatabase();
      const { database: siblingDatabase } = await openDatabase(schema);
      const owner = makeDriver(database);
      const sibling = makeDriver(siblingDatabase, { pollIntervalMs: 20 });
      await withStarted(owner, () =>
        withStarted(sibling, async () => {
          await owner.publish("jobs", "work", {});
          const held = collect();
          await owner.consume("jobs", { prefetch: 1 }, held.onDelivery);
          await waitUntil(() => held.deliveries.length === 1, "the owner's delivery");
          const received = collect();
          await sibling.consume("jobs", { prefetch: 1 }, received.onDelivery);
          // Many of the sibling's polls (each also looks for dead owners) pass.
          await sleep(300);
          assert.equal(received.deliveries.length, 0);
          await held.deliveries[0].ack();
          assert.deepEqual(await sibling.stats("jobs"), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
        }),
      );
    });

    test("a consumer keeps being woken after its listening connection is cut, and by notifications once it is back", async () => {
      const { database, schema } = await openDatabase();
      const { database: otherProcess } = await openDatabase(schema);
      const { logger, lines } = captureLogger();
      const consumer = makeDriver(database, { pollIntervalMs: 100, logger });
      const publisher = makeDriver(otherProcess);
      await withStarted(consumer, () =>
        withStarted(publisher, async () => {
          const received = collect({ ack: true });
          await consumer.consume("jobs", { prefetch: 2 }, received.onDelivery);
          const ownerKey = (consumer as unknown as { listener: { ownerKey: number } }).listener.ownerKey;
          await adminPool().query(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1952543595 AND objid = $1 AND objsubid = 2",
            [ownerKey],
          );
          await publisher.publish("jobs", "while cut", {});
          await waitUntil(() => received.deliveries.length === 1, "the delivery found by polling");
          await waitUntil(() => lines.some((line) => line.msg === "the queue's listening connection is back"), "the reconnection");
          assert.ok(lines.some((line) => line.msg === "the queue's listening connection was lost; consumers poll until it is back"));
          await publisher.publish("jobs", "after", {});
          await waitUntil(() => received.deliveries.length === 2, "the second delivery");
        }),
      );
    });
  });
});
