import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import kind, { SqliteComponent, ThreadedSqliteComponent } from "./db-sql-sqlite.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import type { Entry } from "../registry/entry.ts";
import { projectSchemas } from "../registry/schemas.ts";
import { createLogger } from "../logger.ts";

const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "taskrt-db-kind-"));
after(() => fs.rmSync(temporaryRoot, { recursive: true, force: true }));

/** An entry as the validator leaves it: the schema's defaults filled in. */
function validatedEntry(data: Record<string, unknown>): { entry: Entry; errors: string[] } {
  const candidate: Record<string, unknown> = { ...data, name: "db", kind: "db.sql.sqlite", meta: {} };
  const validate = projectSchemas().validator("db.sql.sqlite")!;
  const valid = validate(candidate);
  const { name: _name, kind: _kind, meta: _meta, ...filled } = candidate;
  const location = { file: "/test/_index.yaml", line: 1, column: 1 };
  const entry: Entry = { id: "app:db", namespace: "app", name: "db", kind: "db.sql.sqlite", meta: {}, data: filled, file: location.file, location, locate: () => location };
  return { entry, errors: valid ? [] : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`) };
}

function buildContext(): BuildContext {
  return {
    registry: { root: "/test", entries: [], byId: new Map() },
    logger: createLogger({ sink: { write() {} } }),
    component: () => {
      throw new Error("db.sql.sqlite references nothing");
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

describe("db.sql.sqlite", () => {
  test("the schema requires file and fills busy_timeout, synchronous and lifecycle defaults", () => {
    assert.deepEqual(validatedEntry({}).errors, [" must have required property 'file'"]);
    const { entry, errors } = validatedEntry({ file: "./data/tasks.db" });
    assert.deepEqual(errors, []);
    assert.equal(entry.data.busy_timeout, "5s");
    assert.equal(entry.data.synchronous, "NORMAL");
    assert.equal((entry.data.lifecycle as Record<string, unknown>).stop_timeout, "10s");
  });

  test("the schema accepts Wippy's pool and options blocks", () => {
    assert.deepEqual(validatedEntry({ file: ":memory:", pool: { max_lifetime: "1h" }, options: { cache: "shared" } }).errors, []);
  });

  test("the kind is a service referencing nothing", () => {
    assert.equal(kind.kind, "db.sql.sqlite");
    assert.equal(kind.service, true);
    assert.deepEqual(kind.references, []);
  });

  test("create does no I/O; start creates the parent folder and opens in WAL; stop closes", async () => {
    const file = path.join(temporaryRoot, "data", "nested", "tasks.db");
    const { entry } = validatedEntry({ file, busy_timeout: "250ms", synchronous: "FULL" });
    const component = kind.create(entry, buildContext()) as SqliteComponent;
    assert.ok(component instanceof SqliteComponent);
    assert.equal(fs.existsSync(path.dirname(file)), false);
    assert.equal(component.describe(), `sqlite ${file} (closed)`);
    await component.start();
    try {
      assert.ok(fs.existsSync(file));
      assert.equal(component.describe(), `sqlite ${file} (WAL)`);
      assert.equal(component.id, "app:db");
      assert.equal(component.dialect, "sqlite");
      assert.deepEqual(await component.query("PRAGMA busy_timeout"), [{ timeout: 250 }]);
      assert.deepEqual(await component.query("PRAGMA synchronous"), [{ synchronous: 2 }]);
    } finally {
      await component.stop();
    }
    assert.equal(component.describe(), `sqlite ${file} (closed)`);
    await assert.rejects(component.query("SELECT 1"), { code: "E_DB_UNAVAILABLE", message: "database app:db is not open" });
  });

  test("a relative file resolves against the working directory and is described as written", async () => {
    const previous = process.cwd();
    process.chdir(temporaryRoot);
    try {
      const component = kind.create(validatedEntry({ file: "./data/tasks.db" }).entry, buildContext()) as SqliteComponent;
      await component.start();
      await component.stop();
      assert.ok(fs.existsSync(path.join(temporaryRoot, "data", "tasks.db")));
      assert.equal(component.describe(), "sqlite ./data/tasks.db (closed)");
    } finally {
      process.chdir(previous);
    }
  });

  test(":memory: is described as lost on exit", async () => {
    const component = kind.create(validatedEntry({ file: ":memory:" }).entry, buildContext()) as SqliteComponent;
    await component.start();
    try {
      assert.equal(component.describe(), "sqlite :memory: (in memory: lost on exit)");
    } finally {
      await component.stop();
    }
  });

  test("writer defaults to main; writer: thread runs the write connection on a writer thread and says so", async () => {
    assert.equal(validatedEntry({ file: ":memory:" }).entry.data.writer, "main");
    assert.deepEqual(validatedEntry({ file: ":memory:", writer: "elsewhere" }).errors, ["/writer must be equal to one of the allowed values"]);
    const file = path.join(temporaryRoot, "threaded", "tasks.db");
    const component = kind.create(validatedEntry({ file, synchronous: "FULL", writer: "thread" }).entry, buildContext()) as ThreadedSqliteComponent;
    assert.ok(component instanceof ThreadedSqliteComponent);
    await component.start();
    try {
      assert.equal(component.describe(), `sqlite ${file} (WAL, writer thread)`);
      await component.execute("CREATE TABLE t (n INTEGER)");
      assert.deepEqual(await component.execute("INSERT INTO t VALUES (1)"), { lastInsertId: 1, rowsAffected: 1 });
      assert.deepEqual(await component.query("SELECT n FROM t"), [{ n: 1 }]);
    } finally {
      await component.stop();
    }
    assert.equal(component.describe(), `sqlite ${file} (closed)`);
  });

  test("with writer: thread, a start that cannot open the file fails with the same E_DB_UNAVAILABLE", async () => {
    const blocker = path.join(temporaryRoot, "blocker-threaded");
    fs.writeFileSync(blocker, "");
    const file = path.join(blocker, "tasks.db");
    const component = kind.create(validatedEntry({ file, writer: "thread" }).entry, buildContext()) as ThreadedSqliteComponent;
    await assert.rejects(component.start(), {
      code: "E_DB_UNAVAILABLE",
      message: `cannot open database app:db at ${file}: cannot create its folder: EEXIST: file already exists, mkdir '${blocker}'`,
    });
    assert.equal(component.describe(), `sqlite ${file} (closed)`);
    await assert.rejects(component.query("SELECT 1"), { code: "E_DB_UNAVAILABLE" });
  });

  test("a start that cannot open the file fails with E_DB_UNAVAILABLE and leaves the component closed", async () => {
    const blocker = path.join(temporaryRoot, "blocker");
    fs.writeFileSync(blocker, "");
    const file = path.join(blocker, "tasks.db");
    const component = kind.create(validatedEntry({ file }).entry, buildContext()) as SqliteComponent;
    await assert.rejects(component.start(), {
      code: "E_DB_UNAVAILABLE",
      message: `cannot open database app:db at ${file}: cannot create its folder: EEXIST: file already exists, mkdir '${blocker}'`,
    });
    assert.equal(component.describe(), `sqlite ${file} (closed)`);
  });
});
