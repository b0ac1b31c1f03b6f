import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import type { QueueHandle, Delivery } from "../drivers/queue/driver.ts";
import { PostgresQueueDriver } from "../drivers/queue/postgres.ts";
import { checkSnippet, startSnippet } from "../../test/support/registry.ts";
import { waitUntil } from "../../test/support/wait.ts";
import { LOCAL_POSTGRES, serviceSkip } from "../../test/support/services.ts";

const skip = await serviceSkip("postgres", LOCAL_POSTGRES.host, LOCAL_POSTGRES.port);
const SCHEMA = `taskrt_pg_queue_kind_${process.pid}`;

describe("queue.driver.postgres", () => {
  test("db is required, and must name a db.sql.postgres entry", async () => {
    const missing = await checkSnippet(`
      - name: queue_driver
        kind: queue.driver.postgres
    `);
    assert.ok(missing.problems.some((problem) => problem.severity === "error" && /db/.test(problem.message)), JSON.stringify(missing.problems));
    const wrongKind = await checkSnippet(`
      - name: db
        kind: db.sql.sqlite
        file: "{dir}/app.db"
      - name: queue_driver
        kind: queue.driver.postgres
        db: app:db
    `);
    const problem = wrongKind.problems.find((found) => found.severity === "error");
    assert.ok(problem, "a db.sql.sqlite entry is refused");
    assert.match(problem.message, /db\.sql\.postgres/);
  });

  describe("started from a registry", { skip }, () => {
    const admin = skip ? undefined : new pg.Pool({ host: LOCAL_POSTGRES.host, port: LOCAL_POSTGRES.port, user: LOCAL_POSTGRES.user, database: LOCAL_POSTGRES.database, max: 1 });
    after(async () => {
      await admin?.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
      await admin?.end();
    });

    test("a queue on it publishes and delivers, with the schema's defaults; stopping the registry leaves nothing leased", async () => {
      await admin!.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
      const app = await startSnippet(`
        - name: db
          kind: db.sql.postgres
          host: ${LOCAL_POSTGRES.host}
          port: ${LOCAL_POSTGRES.port}
          database: ${LOCAL_POSTGRES.database}
          username: ${LOCAL_POSTGRES.user}
          options:
            search_path: ${SCHEMA}
          lifecycle:
            auto_start: true
        - name: queue_driver
          kind: queue.driver.postgres
          db: app:db
          lifecycle:
            auto_start: true
        - name: jobs
          kind: queue.queue
          driver: app:queue_driver
      `);
      try {
        const driver = app.supervisor.component<PostgresQueueDriver>("app:queue_driver");
        assert.ok(driver instanceof PostgresQueueDriver);
        assert.equal(driver.ackTimeoutMs, 30_000);
        assert.equal(driver.pollIntervalMs, 1000);
        assert.equal(driver.describe(), "durable, in app:db");
        const queue = app.supervisor.component<QueueHandle>("app:jobs");
        const id = await queue.publish({ hello: "world" });
        const deliveries: Delivery[] = [];
        await queue.consume({ prefetch: 1 }, (delivery) => deliveries.push(delivery));
        await waitUntil(() => deliveries.length === 1, "the delivery");
        assert.equal(deliveries[0].message.id, id);
        assert.deepEqual(deliveries[0].message.body, { hello: "world" });
      } finally {
        await app.stop();
      }
      const { rows } = await admin!.query(`SELECT state, attempts FROM ${SCHEMA}.taskrt_queue_messages`);
      assert.deepEqual(rows, [{ state: "ready", attempts: 0 }], "the unsettled delivery went back at stop, no attempt counted");
    });
  });
});
