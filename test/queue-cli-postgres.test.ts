/**
 * `taskrt queue …` against a PostgreSQL registry (examples/postgres), in a process of its own beside
 * "the app" (a queue driver in this process, on the same schema): counts, a pause its consumers obey
 * and a resume that reaches them at once (NOTIFY, not their hour-long poll), dead letters listed,
 * retried and discarded, and a purge.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import pg from "pg";
import { PostgresDatabase } from "../runtime/drivers/sql/postgres.ts";
import { PostgresQueueDriver } from "../runtime/drivers/queue/postgres.ts";
import type { Delivery } from "../runtime/drivers/queue/driver.ts";
import { captureLogger } from "./support/logs.ts";
import { sleep, waitUntil } from "./support/wait.ts";
import { LOCAL_POSTGRES, serviceSkip } from "./support/services.ts";

const skip = await serviceSkip("postgres", LOCAL_POSTGRES.host, LOCAL_POSTGRES.port);
const REGISTRY = "examples/postgres";
const SCHEMA = `taskrt_queue_cli_${process.pid}`;

async function taskrt(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env, NO_COLOR: "1", PGHOST: LOCAL_POSTGRES.host, PGPORT: String(LOCAL_POSTGRES.port), PGDATABASE: LOCAL_POSTGRES.database, PGUSER: LOCAL_POSTGRES.user };
  const child = spawn(process.execPath, ["bin/taskrt.js", ...args], { env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const [code] = await once(child, "exit");
  return { code, stdout, stderr };
}

const cli = (...args: string[]) => taskrt(["queue", ...args, "-o", `app:db:options.search_path=${SCHEMA}`]);

describe("taskrt queue on PostgreSQL, beside the running app", { skip }, () => {
  let admin: pg.Pool;
  let database: PostgresDatabase;
  let app: PostgresQueueDriver;

  before(async () => {
    admin = new pg.Pool({ host: LOCAL_POSTGRES.host, port: LOCAL_POSTGRES.port, user: LOCAL_POSTGRES.user, database: LOCAL_POSTGRES.database, max: 1 });
    await admin.query(`CREATE SCHEMA ${SCHEMA}`);
    database = new PostgresDatabase({
      id: "app:db",
      connection: () => ({ ...LOCAL_POSTGRES, ssl: false, searchPath: SCHEMA, connectTimeoutMs: 5000 }),
      pool: { maxOpen: 4, maxIdle: 4, maxLifetimeMs: 0 },
      closeTimeoutMs: 2000,
    });
    await database.open();
    // Polls once an hour: only a notification can wake its consumers in time.
    app = new PostgresQueueDriver({ id: "app:queue_driver", database, ackTimeoutMs: 30_000, pollIntervalMs: 3_600_000, logger: captureLogger().logger });
    await app.start();
  });

  after(async () => {
    await app?.stop();
    await database?.close();
    await admin?.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await admin?.end();
  });

  test("ls counts per state; pause from the shell holds the app's consumer off, and resume reaches it at once", async () => {
    await app.publish("tasks_queue", { n: 1 }, {});
    await app.publish("tasks_queue", { n: 2 }, {}, { delayMs: 600_000 });
    const json = await cli("ls", REGISTRY, "--format", "json");
    assert.equal(json.code, 0, json.stderr);
    const queue = JSON.parse(json.stdout).queues.find((entry: { id: string }) => entry.id === "app:tasks_queue");
    assert.deepEqual(queue, { id: "app:tasks_queue", driver: "app:queue_driver", driverKind: "queue.driver.postgres", ready: 1, inFlight: 0, delayed: 1, dead: 0, paused: false });
    assert.equal(await app.purge("tasks_queue"), 2);

    const paused = await cli("pause", REGISTRY, "app:tasks_queue");
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /^app:tasks_queue paused: /);
    assert.equal(await app.isPaused("tasks_queue"), true);
    const deliveries: Delivery[] = [];
    await app.consume("tasks_queue", { prefetch: 2 }, (delivery) => {
      deliveries.push(delivery);
      void delivery.ack();
    });
    await app.publish("tasks_queue", { n: 3 }, {});
    await sleep(300);
    assert.equal(deliveries.length, 0, "delivered while paused");
    const text = await cli("ls", REGISTRY);
    assert.match(text.stdout, /\napp:tasks_queue +app:queue_driver \(postgres\) +1 +0 +0 +0 +paused\n/);

    const resumed = await cli("resume", REGISTRY, "tasks_queue", "--format", "json");
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(JSON.parse(resumed.stdout), { queue: "app:tasks_queue", paused: false });
    await waitUntil(() => deliveries.length === 1, "the delivery once the shell resumed the queue");
  });

  test("dead lists dead letters newest first; discard and retry take an id or --all; purge drops what waits", async () => {
    for (let index = 0; index < 3; index++) await app.publish("dead_tasks", { dead: index }, {});
    const deliveries: Delivery[] = [];
    const subscription = await app.consume("dead_tasks", { prefetch: 3 }, (delivery) => deliveries.push(delivery));
    await waitUntil(() => deliveries.length === 3, "3 deliveries");
    await subscription.cancel();
    for (const delivery of deliveries) await delivery.bury(`poison ${String((delivery.message.body as { dead: number }).dead)}`);
    const ids = deliveries.map((delivery) => delivery.message.id);

    const listed = await cli("dead", REGISTRY, "app:dead_tasks", "--format", "json");
    assert.equal(listed.code, 0, listed.stderr);
    const page = JSON.parse(listed.stdout);
    assert.equal(page.total, 3);
    assert.deepEqual(new Set(page.messages.map((message: { id: string }) => message.id)), new Set(ids));
    assert.match(page.messages[0].error, /^poison \d$/);

    const discarded = await cli("discard", REGISTRY, "app:dead_tasks", ids[0]);
    assert.equal(discarded.stdout, "app:dead_tasks: 1 dead letter discarded\n");
    const retried = await cli("retry", REGISTRY, "app:dead_tasks", "--all");
    assert.equal(retried.stdout, "app:dead_tasks: 2 dead letters put back for another round of attempts\n");
    assert.deepEqual(await app.stats("dead_tasks"), { ready: 2, inFlight: 0, delayed: 0, dead: 0 });

    const purged = await cli("purge", REGISTRY, "app:dead_tasks");
    assert.equal(purged.stdout, "app:dead_tasks: 2 waiting or delayed messages purged\n");
    assert.deepEqual(await app.stats("dead_tasks"), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
  });
});
