import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import kind, { checkStorage } from "./queue-driver-sqlite.ts";
import dbKind, { SqliteComponent } from "./db-sql-sqlite.ts";
import type { Component } from "../contracts/component.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import type { Entry } from "../registry/entry.ts";
import { SqliteQueueDriver } from "../drivers/queue/sqlite.ts";
import { MESSAGES_TABLE } from "../drivers/queue/sqlite-schema.ts";
import { projectSchemas } from "../registry/schemas.ts";
import { createLogger } from "../logger.ts";

const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "taskrt-queue-sqlite-kind-"));
after(() => fs.rmSync(temporaryRoot, { recursive: true, force: true }));

const location = { file: "/test/_index.yaml", line: 3, column: 5 };
const dbLocation = { file: "/test/_index.yaml", line: 7, column: 9 };

/** An entry as the validator leaves it: the schema's defaults filled in. */
function validatedEntry(kindName: string, id: string, data: Record<string, unknown>): { entry: Entry; errors: string[] } {
  const [namespace, name] = id.split(":");
  const candidate: Record<string, unknown> = { ...data, name, kind: kindName, meta: {} };
  const validate = projectSchemas().validator(kindName)!;
  const valid = validate(candidate);
  const { name: _name, kind: _kind, meta: _meta, ...filled } = candidate;
  const entry: Entry = {
    id,
    namespace,
    name,
    kind: kindName,
    meta: {},
    data: filled,
    file: location.file,
    location,
    locate: (fieldPath) => (fieldPath[0] === "db" ? dbLocation : location),
  };
  return { entry, errors: valid ? [] : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`) };
}

function queueEntry(data: Record<string, unknown>): Entry {
  const { entry, errors } = validatedEntry("queue.driver.sqlite", "app:queue_driver", data);
  assert.deepEqual(errors, []);
  return entry;
}

function buildContext(components: Record<string, Component> = {}): BuildContext {
  return {
    registry: { root: "/test", entries: [], byId: new Map() },
    logger: createLogger({ sink: { write() {} } }),
    component: <T = Component>(id: string): T => {
      const found = components[id];
      if (!found) throw new Error(`no component ${id}`);
      return found as T;
    },
    services: {
      database: () => {
        throw new Error("unused");
      },
      queue: () => {
        throw new Error("unused");
      },
    },
  };
}

describe("queue.driver.sqlite", () => {
  test("the schema fills synchronous FULL, the timeouts, the poll interval, a zero commit window and lifecycle", () => {
    const entry = queueEntry({ file: "./data/queue.db" });
    assert.equal(entry.data.synchronous, "FULL");
    assert.equal(entry.data.busy_timeout, "5s");
    assert.equal(entry.data.ack_timeout, "30s");
    assert.equal(entry.data.poll_interval, "1s");
    assert.equal(entry.data.commit_window, 0);
    assert.equal((entry.data.lifecycle as Record<string, unknown>).stop_timeout, "10s");
  });

  test("the schema refuses an unknown synchronous level and a malformed duration", () => {
    const { errors } = validatedEntry("queue.driver.sqlite", "app:queue_driver", { file: "q.db", synchronous: "SOMETIMES", ack_timeout: "soon" });
    assert.ok(errors.includes("/synchronous must be equal to one of the allowed values"), errors.join("; "));
    assert.ok(errors.some((error) => error.startsWith("/ack_timeout ")), errors.join("; "));
  });

  test("the kind is a service whose db field references a db.sql.sqlite entry", () => {
    assert.equal(kind.kind, "queue.driver.sqlite");
    assert.equal(kind.service, true);
    assert.deepEqual(kind.references, [{ path: ["db"], kinds: ["db.sql.sqlite"] }]);
    assert.equal(kind.check, checkStorage);
  });

  test("the check wants exactly one of file and db", () => {
    assert.deepEqual(checkStorage(queueEntry({ file: "q.db" })), []);
    assert.deepEqual(checkStorage(queueEntry({ db: "app:db" })), []);
    assert.deepEqual(checkStorage(queueEntry({})), [
      {
        code: "E_SCHEMA",
        severity: "error",
        message: "needs file (a database file of its own) or db (a db.sql.sqlite entry to share)",
        entryId: "app:queue_driver",
        field: undefined,
        location,
        hint: "file: the queue's own database file, e.g. ./data/queue.db; db: a db.sql.sqlite entry to share, e.g. app:db",
      },
    ]);
    assert.deepEqual(checkStorage(queueEntry({ file: "q.db", db: "app:db" })), [
      {
        code: "E_SCHEMA",
        severity: "error",
        message: "gives both file and db; a queue lives in one place: keep one of them",
        entryId: "app:queue_driver",
        field: "db",
        location: dbLocation,
        hint: "file: the queue's own database file, e.g. ./data/queue.db; db: a db.sql.sqlite entry to share, e.g. app:db",
      },
    ]);
  });

  test("create refuses an entry without storage, as the check does", () => {
    assert.throws(() => kind.create(queueEntry({}), buildContext()), {
      code: "E_SCHEMA",
      message: "app:queue_driver needs file (a database file of its own) or db (a db.sql.sqlite entry to share)",
    });
  });

  test("with file: create does no I/O, start creates the file, and the durations reach the driver", async () => {
    const file = path.join(temporaryRoot, "own", "queue.db");
    const driver = kind.create(queueEntry({ file, ack_timeout: "2s", poll_interval: "250ms" }), buildContext()) as SqliteQueueDriver;
    assert.ok(driver instanceof SqliteQueueDriver);
    assert.equal(driver.id, "app:queue_driver");
    assert.equal(driver.ackTimeoutMs, 2000);
    assert.equal(driver.pollIntervalMs, 250);
    assert.equal(fs.existsSync(path.dirname(file)), false);
    assert.equal(driver.describe(), `durable, in ${file}`);
    await driver.start();
    try {
      assert.ok(fs.existsSync(file));
      await driver.publish("jobs", { n: 1 }, {});
      assert.deepEqual(await driver.stats("jobs"), { ready: 1, inFlight: 0, delayed: 0, dead: 0 });
    } finally {
      await driver.stop();
    }
  });

  test("with db: the queue's table lives in that database, on its connection, and the driver says so", async () => {
    const file = path.join(temporaryRoot, "shared", "app.db");
    const { entry: databaseEntry } = validatedEntry("db.sql.sqlite", "app:db", { file });
    const database = dbKind.create(databaseEntry, buildContext()) as SqliteComponent;
    // A bare name resolves in the driver's namespace, as every reference does.
    const driver = kind.create(queueEntry({ db: "db" }), buildContext({ "app:db": database })) as SqliteQueueDriver;
    assert.equal(driver.describe(), "durable, in app:db");
    await database.start();
    try {
      await driver.start();
      await driver.publish("jobs", { n: 1 }, {});
      await driver.stop();
      assert.deepEqual(await database.query(`SELECT queue FROM ${MESSAGES_TABLE}`), [{ queue: "jobs" }]);
    } finally {
      await database.stop();
    }
  });

  test("with db naming something that is not a SQLite database, create says what is wrong", () => {
    assert.throws(() => kind.create(queueEntry({ db: "app:db" }), buildContext({ "app:db": {} })), {
      code: "E_QUEUE_STORAGE",
      message: "app:queue_driver: db app:db is not a SQLite database the queue can share (it offers no raw() connection)",
      hint: "point db at a db.sql.sqlite entry, or give the queue a file of its own",
    });
  });
});
