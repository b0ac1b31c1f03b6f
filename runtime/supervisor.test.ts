import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Supervisor } from "./supervisor.ts";
import type { Component } from "./contracts/component.ts";
import { defineKind, type KindDefinition } from "./contracts/kind-definition.ts";
import type { Entry, Registry } from "./registry/entry.ts";
import { createLogger } from "./logger.ts";
import { waitUntil } from "../test/support/wait.ts";

const quiet = createLogger({ level: "error", sink: { write() {} } });

function entry(id: string, kind: string, data: Record<string, unknown> = {}): Entry {
  const [namespace, name] = id.split(":");
  const location = { file: "/virtual/_index.yaml", line: 1, column: 1 };
  return { id, namespace, name, kind, meta: {}, data, file: location.file, location, locate: () => location };
}

function registry(...entries: Entry[]): Registry {
  return { root: "/virtual", entries, byId: new Map(entries.map((item) => [item.id, item])) };
}

/** A kind whose components record start/stop into `events` and can be told to fail. */
function recordingKind(kind: string, events: string[], options: { service?: boolean; failStart?: string; failStop?: string; slowStartMs?: number; oneShot?: Map<string, Promise<void>> } = {}): KindDefinition {
  return defineKind({
    kind,
    summary: "test",
    references: [{ path: ["needs"], kinds: [] }],
    service: options.service ?? true,
    create(item): Component {
      return {
        async start() {
          if (options.slowStartMs) await new Promise((resolve) => setTimeout(resolve, options.slowStartMs));
          if (options.failStart === item.id) throw new Error("boom");
          events.push(`start ${item.id}`);
        },
        async stop() {
          events.push(`stop ${item.id}`);
          if (options.failStop === item.id) throw new Error("stuck");
        },
        completed: options.oneShot?.has(item.id) ? () => options.oneShot!.get(item.id)! : undefined,
      };
    },
  });
}

describe("Supervisor", () => {
  test("starts dependencies before dependents and stops in reverse order", async () => {
    const events: string[] = [];
    const kinds = new Map([["svc", recordingKind("svc", events)]]);
    const supervisor = new Supervisor(
      registry(
        entry("app:web", "svc", { needs: "app:db", lifecycle: { auto_start: true } }),
        entry("app:db", "svc"),
      ),
      kinds,
      quiet,
    );
    await supervisor.start();
    await supervisor.stop();
    assert.deepEqual(events, ["start app:db", "start app:web", "stop app:web", "stop app:db"]);
  });

  test("starts only what auto-start roots need", async () => {
    const events: string[] = [];
    const kinds = new Map([["svc", recordingKind("svc", events)]]);
    const supervisor = new Supervisor(registry(entry("app:a", "svc", { lifecycle: { auto_start: true } }), entry("app:idle", "svc")), kinds, quiet);
    await supervisor.start();
    assert.deepEqual(events, ["start app:a"]);
    assert.equal(supervisor.state("app:idle"), "CREATED");
    await supervisor.stop();
  });

  test("waits for a one-shot dependency to complete before starting what requires it", async () => {
    const events: string[] = [];
    let finish!: () => void;
    const oneShot = new Map([["app:migrate", new Promise<void>((resolve) => (finish = resolve)).then(() => void events.push("migrate done"))]]);
    const kinds = new Map([["svc", recordingKind("svc", events, { oneShot })]]);
    const supervisor = new Supervisor(
      registry(entry("app:migrate", "svc", { lifecycle: { auto_start: true } }), entry("app:web", "svc", { lifecycle: { auto_start: true, requires: ["migrate"] } })),
      kinds,
      quiet,
    );
    const starting = supervisor.start();
    await waitUntil(() => events.length > 0, "the first start");
    assert.deepEqual(events, ["start app:migrate"]);
    finish();
    await starting;
    assert.deepEqual(events, ["start app:migrate", "migrate done", "start app:web"]);
    await supervisor.stop();
  });

  test("start-up ends once every service has started: a process that never returns does not hold it up", { timeout: 30_000 }, async () => {
    const events: string[] = [];
    const forever = new Promise<void>(() => {});
    const kinds = new Map([["svc", recordingKind("svc", events, { oneShot: new Map([["app:poller", forever]]) })]]);
    const supervisor = new Supervisor(registry(entry("app:poller", "svc", { lifecycle: { auto_start: true } }), entry("app:web", "svc", { lifecycle: { auto_start: true } })), kinds, quiet);
    await supervisor.start();
    assert.deepEqual(events.sort(), ["start app:poller", "start app:web"]);
    assert.equal(supervisor.view.finished("app:poller"), false);
    await supervisor.stop();
  });

  test("a required entry that fails ends the start-up at once, even while another waits for a one-shot process", { timeout: 30_000 }, async () => {
    const events: string[] = [];
    const never = new Promise<void>(() => {});
    const kinds = new Map([["svc", recordingKind("svc", events, { failStart: "app:db", oneShot: new Map([["app:migrate", never]]) })]]);
    const supervisor = new Supervisor(
      registry(
        entry("app:db", "svc", { lifecycle: { auto_start: true } }),
        entry("app:migrate", "svc", { lifecycle: { auto_start: true } }),
        entry("app:web", "svc", { lifecycle: { auto_start: true, requires: ["migrate"] } }),
      ),
      kinds,
      quiet,
    );
    await assert.rejects(supervisor.start(), { message: "app:db failed to start: boom" });
    assert.deepEqual(events, ["start app:migrate", "stop app:migrate"]);
  });

  test("an abort during start-up stops what has started and rejects with E_INTERRUPTED", { timeout: 30_000 }, async () => {
    const events: string[] = [];
    const never = new Promise<void>(() => {});
    const kinds = new Map([["svc", recordingKind("svc", events, { oneShot: new Map([["app:migrate", never]]) })]]);
    const supervisor = new Supervisor(
      registry(entry("app:migrate", "svc", { lifecycle: { auto_start: true } }), entry("app:web", "svc", { lifecycle: { auto_start: true, requires: ["migrate"] } })),
      kinds,
      quiet,
    );
    const abort = new AbortController();
    const starting = supervisor.start(abort.signal);
    await waitUntil(() => supervisor.state("app:migrate") === "RUNNING", "app:migrate to run");
    abort.abort();
    await assert.rejects(starting, { code: "E_INTERRUPTED", message: "start-up interrupted: what had started was stopped" });
    assert.deepEqual(events, ["start app:migrate", "stop app:migrate"]);
    assert.equal(supervisor.state("app:web"), "CREATED");
  });

  test("an optional entry that failed is listed with its cause, and lookups of it name the cause", async () => {
    const lines: string[] = [];
    const logger = createLogger({ format: "json", sink: { write: (line) => void lines.push(line) } });
    const kinds = new Map([["db.sql.sqlite", recordingKind("db.sql.sqlite", [], { failStart: "app:db" })]]);
    const supervisor = new Supervisor(registry(entry("app:db", "db.sql.sqlite", { lifecycle: { auto_start: true, startup: "optional" } })), kinds, logger);
    await supervisor.start();
    assert.deepEqual(supervisor.failed(), [{ id: "app:db", kind: "db.sql.sqlite", cause: "boom" }]);
    assert.throws(() => supervisor.services.database("app:db"), { code: "E_DB_UNAVAILABLE", message: "database app:db is not running (failed: boom)" });
    assert.throws(() => supervisor.services.database("app:db"), { message: "database app:db is not running (failed: boom)" });
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>).map((record) => [record.level, record.entry, record.msg]);
    assert.deepEqual(logged, [["error", "app:db", "failed to start: boom"]]);
    await supervisor.stop();
  });

  test("a failed start stops what already started and names the entry", async () => {
    const events: string[] = [];
    const kinds = new Map([["svc", recordingKind("svc", events, { failStart: "app:web" })]]);
    const supervisor = new Supervisor(registry(entry("app:db", "svc"), entry("app:web", "svc", { needs: "db", lifecycle: { auto_start: true } })), kinds, quiet);
    await assert.rejects(supervisor.start(), { message: "app:web failed to start: boom" });
    assert.deepEqual(events, ["start app:db", "stop app:db"]);
  });

  test("a start that outlives start_timeout fails with the timeout named", async () => {
    const kinds = new Map([["svc", recordingKind("svc", [], { slowStartMs: 200 })]]);
    const supervisor = new Supervisor(registry(entry("app:slow", "svc", { lifecycle: { auto_start: true, start_timeout: "20ms" } })), kinds, quiet);
    await assert.rejects(supervisor.start(), { message: "app:slow failed to start: app:slow did not start within 20ms (lifecycle.start_timeout)" });
  });

  test("an optional root that fails does not stop the others", async () => {
    const events: string[] = [];
    const kinds = new Map([["svc", recordingKind("svc", events, { failStart: "app:extra" })]]);
    const supervisor = new Supervisor(
      registry(entry("app:extra", "svc", { lifecycle: { auto_start: true, startup: "optional" } }), entry("app:core", "svc", { lifecycle: { auto_start: true } })),
      kinds,
      quiet,
    );
    await supervisor.start();
    assert.deepEqual(events, ["start app:core"]);
    await supervisor.stop();
  });

  test("stop reports every failure together and still stops the rest", async () => {
    const events: string[] = [];
    const kinds = new Map([["svc", recordingKind("svc", events, { failStop: "app:web" })]]);
    const supervisor = new Supervisor(registry(entry("app:db", "svc"), entry("app:web", "svc", { needs: "db", lifecycle: { auto_start: true } })), kinds, quiet);
    await supervisor.start();
    await assert.rejects(supervisor.stop(), { message: "stopping failed for 1 entry:\n  app:web: stuck" });
    assert.deepEqual(events.slice(2), ["stop app:web", "stop app:db"]);
  });

  test("services lookups name unknown databases and queues with a hint", async () => {
    const kinds = new Map([["svc", recordingKind("svc", [])], ["db.sql.sqlite", recordingKind("db.sql.sqlite", [])]]);
    const supervisor = new Supervisor(registry(entry("app:db", "db.sql.sqlite", { lifecycle: { auto_start: true } })), kinds, quiet);
    await supervisor.start();
    assert.throws(() => supervisor.services.database("app:dbb"), { message: "database app:dbb not found", hint: "did you mean app:db?" } as object);
    assert.throws(() => supervisor.services.queue("app:jobs"), { message: "queue app:jobs not found", hint: "the registry declares no queue" } as object);
    await supervisor.stop();
    assert.throws(() => supervisor.services.database("app:db"), { message: "database app:db is not running (stopped)" });
  });

  test("a database lookup during start-up waits for the database instead of failing", async () => {
    const events: string[] = [];
    const kinds = new Map([["db.sql.sqlite", recordingKind("db.sql.sqlite", events, { slowStartMs: 30 })], ["svc", recordingKind("svc", events)]]);
    const supervisor = new Supervisor(registry(entry("app:db", "db.sql.sqlite", { lifecycle: { auto_start: true } })), kinds, quiet);
    const starting = supervisor.start();
    await new Promise((resolve) => setImmediate(resolve));
    const database = await supervisor.services.database("app:db");
    assert.deepEqual(events, ["start app:db"]);
    assert.equal(database, supervisor.component("app:db"));
    await starting;
    await supervisor.stop();
  });

  test("its view tells each entry's state, the services started at boot, and which one-shot services have finished", async () => {
    let finishMigration!: () => void;
    const migration = new Promise<void>((resolve) => (finishMigration = resolve));
    const kinds = new Map([["svc", recordingKind("svc", [], { oneShot: new Map([["app:migrate", migration]]) })]]);
    const supervisor = new Supervisor(
      registry(
        entry("app:web", "svc", { needs: "app:migrate", lifecycle: { auto_start: true } }),
        entry("app:migrate", "svc", { needs: "app:db" }),
        entry("app:db", "svc"),
        entry("app:spare", "svc"),
      ),
      kinds,
      quiet,
    );
    assert.deepEqual(supervisor.view.bootServices(), ["app:db", "app:migrate", "app:web"]);
    assert.deepEqual(supervisor.view.services(), ["app:db", "app:spare", "app:migrate", "app:web"]);
    assert.equal(supervisor.view.state("app:db"), undefined);
    const starting = supervisor.start();
    await waitUntil(() => supervisor.view.state("app:migrate") === "RUNNING", "app:migrate to run");
    assert.equal(supervisor.view.finished("app:migrate"), false);
    assert.equal(supervisor.view.state("app:web"), "CREATED");
    finishMigration();
    await starting;
    assert.equal(supervisor.view.finished("app:migrate"), true);
    assert.equal(supervisor.view.state("app:web"), "RUNNING");
    assert.equal(supervisor.view.state("app:spare"), "CREATED");
    await supervisor.stop();
    assert.equal(supervisor.view.state("app:web"), "STOPPED");
  });

  test("reports its start-up time to an attached metrics collector", async () => {
    const kinds = new Map([["svc", recordingKind("svc", [])]]);
    const supervisor = new Supervisor(registry(entry("app:db", "svc", { lifecycle: { auto_start: true } })), kinds, quiet);
    const reported: number[] = [];
    supervisor.instruments.attach({
      entryId: "app:metrics",
      httpRoute: () => ({ record() {} }),
      consumer: () => supervisor.instruments.consumer("unused"),
      processRestarted() {},
      startupFinished: (seconds) => void reported.push(seconds),
      unhandledError() {},
    });
    await supervisor.start();
    assert.equal(reported.length, 1);
    assert.ok(reported[0] > 0 && reported[0] < 10, `start-up seconds: ${reported[0]}`);
    await supervisor.stop();
  });
});
