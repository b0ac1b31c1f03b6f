import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { sqlDriverContract } from "./contract.ts";
import { SqliteDatabase, STATEMENT_CACHE_SIZE, type SqliteOptions } from "./sqlite.ts";
import type { Logger, LogFields } from "../../logger.ts";

const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "taskrt-sqlite-"));
after(() => fs.rmSync(temporaryRoot, { recursive: true, force: true }));
let fileCounter = 0;

function temporaryFile(name = "test.db"): string {
  return path.join(temporaryRoot, `case-${++fileCounter}`, name);
}

function makeSqlite(overrides: Partial<SqliteOptions> = {}): SqliteDatabase {
  return new SqliteDatabase({ id: "app:db", file: ":memory:", busyTimeoutMs: 1000, synchronous: "NORMAL", closeTimeoutMs: 5000, ...overrides });
}

async function openSqlite(overrides: Partial<SqliteOptions> = {}): Promise<SqliteDatabase> {
  const db = makeSqlite(overrides);
  await db.open();
  return db;
}

function pending(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

function capturingLogger(lines: { level: string; message: string; fields?: LogFields }[]): Logger {
  const logger: Logger = {
    debug: (message, fields) => lines.push({ level: "debug", message, fields }),
    info: (message, fields) => lines.push({ level: "info", message, fields }),
    warn: (message, fields) => lines.push({ level: "warn", message, fields }),
    error: (message, fields) => lines.push({ level: "error", message, fields }),
    forEntry: () => logger,
  };
  return logger;
}

sqlDriverContract("sqlite (memory)", async () => makeSqlite());
sqlDriverContract("sqlite (file)", async () => makeSqlite({ file: temporaryFile() }));

describe("sqlite driver: opening", () => {
  test("open creates the parent folders and configures WAL, busy_timeout, synchronous and foreign keys", async () => {
    const file = temporaryFile("nested/deeper/tasks.db");
    const db = await openSqlite({ file, busyTimeoutMs: 1234, synchronous: "FULL" });
    try {
      assert.ok(fs.existsSync(file));
      assert.equal(db.path, file);
      assert.equal(db.journalMode, "wal");
      assert.deepEqual(await db.query("PRAGMA journal_mode"), [{ journal_mode: "wal" }]);
      assert.deepEqual(await db.query("PRAGMA busy_timeout"), [{ timeout: 1234 }]);
      assert.deepEqual(await db.query("PRAGMA synchronous"), [{ synchronous: 2 }]);
      assert.deepEqual(await db.query("PRAGMA foreign_keys"), [{ foreign_keys: 1 }]);
    } finally {
      await db.close();
    }
  });

  test("a relative file resolves against the working directory", () => {
    const db = makeSqlite({ file: "./data/tasks.db" });
    assert.equal(db.path, path.join(process.cwd(), "data", "tasks.db"));
    assert.equal(db.file, "./data/tasks.db");
  });

  test(":memory: opens without touching the disk, in memory journal mode", async () => {
    const db = await openSqlite();
    try {
      assert.equal(db.path, ":memory:");
      assert.equal(db.journalMode, "memory");
    } finally {
      await db.close();
    }
  });

  test("foreign keys are enforced", async () => {
    const db = await openSqlite();
    try {
      await db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (parent_id INTEGER REFERENCES parent(id))");
      await assert.rejects(db.execute("INSERT INTO child (parent_id) VALUES (?)", [1]), {
        code: "E_SQL_CONSTRAINT",
        message: "sql failed on app:db: FOREIGN KEY constraint failed",
      });
    } finally {
      await db.close();
    }
  });

  test("a path that is a directory cannot be opened: E_DB_UNAVAILABLE with the path and reason", async () => {
    const folder = path.dirname(temporaryFile());
    fs.mkdirSync(folder, { recursive: true });
    const db = makeSqlite({ file: folder });
    await assert.rejects(db.open(), {
      name: "TaskrtError",
      code: "E_DB_UNAVAILABLE",
      message: `cannot open database app:db at ${folder}: the path is a directory`,
    });
    await assert.rejects(db.query("SELECT 1"), { code: "E_DB_UNAVAILABLE", message: "database app:db is not open" });
  });

  test("a parent folder that cannot be created: E_DB_UNAVAILABLE with the OS reason", async () => {
    const blocker = temporaryFile("a-file");
    fs.mkdirSync(path.dirname(blocker), { recursive: true });
    fs.writeFileSync(blocker, "not a folder");
    const file = path.join(blocker, "sub", "tasks.db");
    await assert.rejects(makeSqlite({ file }).open(), {
      code: "E_DB_UNAVAILABLE",
      message: `cannot open database app:db at ${file}: cannot create its folder: ENOTDIR: not a directory, mkdir '${path.join(blocker, "sub")}'`,
    });
  });

  test("a file that is not a database: E_DB_UNAVAILABLE, and the connection is not kept", async () => {
    const file = temporaryFile("garbage.db");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, "x".repeat(4096));
    const db = makeSqlite({ file });
    await assert.rejects(db.open(), { code: "E_DB_UNAVAILABLE", message: `cannot open database app:db at ${file}: file is not a database` });
    assert.equal(db.state, "CLOSED");
  });

  test("a database can be opened again after close and keeps its data", async () => {
    const file = temporaryFile();
    const db = await openSqlite({ file });
    await db.execute("CREATE TABLE items (name TEXT)");
    await db.execute("INSERT INTO items (name) VALUES (?)", ["kept"]);
    await db.close();
    await db.open();
    try {
      assert.deepEqual(await db.query("SELECT name FROM items"), [{ name: "kept" }]);
    } finally {
      await db.close();
    }
  });
});

describe("sqlite driver: statements", () => {
  test("parameters convert: booleans to 1/0, undefined to NULL, Date to ISO text, objects and arrays to JSON", async () => {
    const db = await openSqlite();
    try {
      const when = new Date("2024-05-06T07:08:09.010Z");
      const rows = await db.query("SELECT ? AS yes, ? AS no, ? AS missing, ? AS at, ? AS object, ? AS list, ? AS big", [
        true,
        false,
        undefined,
        when,
        { a: 1, b: [2] },
        [1, "x"],
        2n ** 40n,
      ]);
      assert.deepEqual(rows, [{ yes: 1, no: 0, missing: null, at: "2024-05-06T07:08:09.010Z", object: '{"a":1,"b":[2]}', list: '[1,"x"]', big: 2 ** 40 }]);
    } finally {
      await db.close();
    }
  });

  test("byte arrays round-trip as blobs", async () => {
    const db = await openSqlite();
    try {
      const [row] = await db.query("SELECT ? AS bytes", [new Uint8Array([0, 1, 255])]);
      assert.deepEqual([...(row.bytes as Uint8Array)], [0, 1, 255]);
    } finally {
      await db.close();
    }
  });

  test("parameters that cannot be bound are refused with the parameter's position", async () => {
    const db = await openSqlite();
    try {
      await assert.rejects(db.query("SELECT ?, ?", [1, () => 2]), {
        code: "E_SQL",
        message: "sql failed on app:db: cannot bind parameter 2, a function",
      });
      await assert.rejects(db.query("SELECT ?", [new Date("nonsense")]), {
        code: "E_SQL",
        message: "sql failed on app:db: cannot bind parameter 1, an invalid Date",
      });
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await assert.rejects(db.query("SELECT ?", [cyclic]), (error: Error & { code?: string }) => {
        assert.equal(error.code, "E_SQL");
        assert.match(error.message, /^sql failed on app:db: cannot bind parameter 1, an object JSON cannot encode \(Converting circular structure/);
        return true;
      });
      await assert.rejects(db.query("SELECT ?", 5 as unknown as unknown[]), {
        code: "E_SQL",
        message: "sql failed on app:db: parameters must be an array, got number",
      });
      await assert.rejects(db.query("SELECT ?", { a: 1 } as unknown as unknown[]), {
        code: "E_SQL",
        message: "sql failed on app:db: parameters must be an array, got Object",
      });
    } finally {
      await db.close();
    }
  });

  test("SQLite's own errors are pinned: syntax, missing parameters, constraint", async () => {
    const db = await openSqlite();
    try {
      await db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE)");
      await db.execute("INSERT INTO items (name) VALUES (?)", ["a"]);
      await assert.rejects(db.query("SELEC 1"), { code: "E_SQL", message: 'sql failed on app:db: near "SELEC": syntax error' });
      await assert.rejects(db.query("SELECT ?"), { code: "E_SQL", message: "sql failed on app:db: Too few parameter values were provided" });
      await assert.rejects(db.query("SELECT ?; SELECT 2"), {
        code: "E_SQL",
        message: "sql failed on app:db: The supplied SQL string contains more than one statement",
      });
      await assert.rejects(db.execute("INSERT INTO items (name) VALUES (?)", ["a"]), (error: Error & { code?: string; cause?: { code?: string } }) => {
        assert.equal(error.code, "E_SQL_CONSTRAINT");
        assert.equal(error.message, "sql failed on app:db: UNIQUE constraint failed: items.name");
        assert.equal(error.cause?.code, "SQLITE_CONSTRAINT_UNIQUE");
        return true;
      });
    } finally {
      await db.close();
    }
  });

  test("lastInsertId is the new rowid of an INSERT (the last row of several), null when nothing was inserted", async () => {
    const db = await openSqlite();
    try {
      await db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE)");
      assert.deepEqual(await db.execute("INSERT INTO items (name) VALUES (?)", ["a"]), { lastInsertId: 1, rowsAffected: 1 });
      assert.deepEqual(await db.execute("INSERT INTO items (name) VALUES (?), (?)", ["b", "c"]), { lastInsertId: 3, rowsAffected: 2 });
      assert.deepEqual(await db.execute("/* upsert */ INSERT OR IGNORE INTO items (name) VALUES (?)", ["a"]), { lastInsertId: null, rowsAffected: 0 });
      assert.deepEqual(await db.execute("WITH n(v) AS (SELECT 'd') INSERT INTO items (name) SELECT v FROM n"), { lastInsertId: 4, rowsAffected: 1 });
      assert.deepEqual(await db.execute("UPDATE items SET name = name || '!' WHERE id = ?", [1]), { lastInsertId: null, rowsAffected: 1 });
    } finally {
      await db.close();
    }
  });

  test("a statement is prepared once per SQL text and reused", async (t) => {
    const db = await openSqlite();
    try {
      const prepare = t.mock.method(BetterSqlite3.prototype, "prepare");
      for (let index = 0; index < 3; index++) await db.execute("SELECT ? AS n", [index]);
      assert.equal(prepare.mock.callCount(), 1);
    } finally {
      await db.close();
    }
  });

  test("the statement cache keeps the most recently used statements only", async () => {
    const db = await openSqlite();
    try {
      for (let index = 0; index < STATEMENT_CACHE_SIZE + 50; index++) await db.query(`SELECT ${index} AS n`);
      assert.equal(db.cachedStatementCount, STATEMENT_CACHE_SIZE);
      assert.deepEqual(await db.query("SELECT 3 AS n"), [{ n: 3 }], "an evicted statement is prepared again");
    } finally {
      await db.close();
    }
  });
});

describe("sqlite driver: read-only database", () => {
  test("writes to a database that became read-only reject with a clear E_SQL, reads keep working", async () => {
    const db = await openSqlite({ file: temporaryFile() });
    try {
      await db.execute("CREATE TABLE items (name TEXT)");
      await db.execute("PRAGMA query_only = 1");
      await assert.rejects(db.execute("INSERT INTO items (name) VALUES (?)", ["x"]), (error: Error & { code?: string; hint?: string }) => {
        assert.equal(error.code, "E_SQL");
        assert.equal(error.message, "sql failed on app:db: attempt to write a readonly database");
        assert.equal(error.hint, `the database is read-only: check that ${db.path} and its folder are writable, the disk has space, and PRAGMA query_only is off`);
        return true;
      });
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.execute("INSERT INTO items (name) VALUES (?)", ["y"]);
        }),
        { code: "E_SQL", message: "sql failed on app:db: attempt to write a readonly database" },
      );
      assert.deepEqual(await db.query("SELECT COUNT(*) AS n FROM items"), [{ n: 0 }]);
      await db.execute("PRAGMA query_only = 0");
      await db.execute("INSERT INTO items (name) VALUES (?)", ["z"]);
      assert.deepEqual(await db.query("SELECT name FROM items"), [{ name: "z" }]);
    } finally {
      await db.close();
    }
  });

  test(
    "a database file made read-only on disk rejects writes with E_SQL",
    { skip: process.getuid?.() === 0 ? "root ignores file permissions; the query_only test covers the error path" : false },
    async () => {
      const file = temporaryFile();
      const setup = await openSqlite({ file });
      await setup.execute("CREATE TABLE items (name TEXT)");
      await setup.close();
      fs.chmodSync(file, 0o444);
      const db = await openSqlite({ file });
      try {
        await assert.rejects(db.execute("INSERT INTO items (name) VALUES (?)", ["x"]), {
          code: "E_SQL",
          message: "sql failed on app:db: attempt to write a readonly database",
        });
      } finally {
        await db.close();
        fs.chmodSync(file, 0o644);
      }
    },
  );
});

describe("sqlite driver: transactions and concurrency", () => {
  test("a statement from another async context waits until the open transaction finished", async () => {
    const db = await openSqlite();
    try {
      await db.execute("CREATE TABLE items (name TEXT)");
      const started = pending();
      const finish = pending();
      let outsideDone = false;
      const transaction = db.transaction(async (tx) => {
        await tx.execute("INSERT INTO items (name) VALUES (?)", ["inside"]);
        started.resolve();
        await finish.promise;
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(outsideDone, false, "the outside statement is still waiting");
        assert.deepEqual(await tx.query("SELECT name FROM items"), [{ name: "inside" }]);
      });
      await started.promise;
      const outside = db.execute("INSERT INTO items (name) VALUES (?)", ["outside"]).then(() => (outsideDone = true));
      finish.resolve();
      await transaction;
      await outside;
      assert.deepEqual(await db.query("SELECT name FROM items ORDER BY rowid"), [{ name: "inside" }, { name: "outside" }]);
    } finally {
      await db.close();
    }
  });

  test("transactions from different async contexts run one after another, never interleaved", async () => {
    const db = await openSqlite();
    try {
      await db.execute("CREATE TABLE counter (value INTEGER); INSERT INTO counter (value) VALUES (0)");
      const increment = () =>
        db.transaction(async (tx) => {
          const [{ value }] = await tx.query("SELECT value FROM counter");
          await new Promise((resolve) => setImmediate(resolve));
          await tx.execute("UPDATE counter SET value = ?", [Number(value) + 1]);
        });
      await Promise.all([increment(), increment(), increment()]);
      assert.deepEqual(await db.query("SELECT value FROM counter"), [{ value: 3 }]);
    } finally {
      await db.close();
    }
  });

  test("statements and transactions queued behind a transaction run in arrival order", async () => {
    const db = await openSqlite();
    try {
      await db.execute("CREATE TABLE log (entry TEXT)");
      const finish = pending();
      const first = db.transaction(async (tx) => {
        await finish.promise;
        await tx.execute("INSERT INTO log (entry) VALUES ('first transaction')");
      });
      const second = db.execute("INSERT INTO log (entry) VALUES ('statement')");
      const third = db.transaction(async (tx) => {
        await tx.execute("INSERT INTO log (entry) VALUES ('second transaction')");
      });
      const fourth = db.execute("INSERT INTO log (entry) VALUES ('last statement')");
      finish.resolve();
      await Promise.all([first, second, third, fourth]);
      const entries = (await db.query("SELECT entry FROM log ORDER BY rowid")).map((row) => row.entry);
      assert.deepEqual(entries, ["first transaction", "statement", "second transaction", "last statement"]);
    } finally {
      await db.close();
    }
  });

  test("a statement on the database from inside the transaction's async context joins the transaction", async () => {
    const db = await openSqlite();
    try {
      await db.execute("CREATE TABLE items (name TEXT)");
      await assert.rejects(
        db.transaction(async () => {
          await db.execute("INSERT INTO items (name) VALUES (?)", ["joined"]);
          assert.deepEqual(await db.query("SELECT name FROM items"), [{ name: "joined" }]);
          throw new Error("undo");
        }),
        /undo/,
      );
      assert.deepEqual(await db.query("SELECT name FROM items"), []);
    } finally {
      await db.close();
    }
  });

  test("work a transaction scheduled runs outside it through runOutsideTransaction, and is not rolled back with it", async () => {
    const db = await openSqlite();
    try {
      await db.execute("CREATE TABLE items (name TEXT)");
      let scheduled: Promise<void> | undefined;
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.execute("INSERT INTO items (name) VALUES ('handler')");
          scheduled = db.runOutsideTransaction(() => {
            assert.equal(db.currentTransaction(), undefined);
            return db.transaction(async (own) => void (await own.execute("INSERT INTO items (name) VALUES ('scheduled')")));
          });
          throw new Error("handler failed");
        }),
        /handler failed/,
      );
      await scheduled;
      assert.deepEqual(await db.query("SELECT name FROM items"), [{ name: "scheduled" }]);
    } finally {
      await db.close();
    }
  });

  test("a transaction ended inside SQLite refuses further statements instead of running them in autocommit", async () => {
    const db = await openSqlite();
    try {
      await db.execute("CREATE TABLE items (name TEXT UNIQUE)");
      await db.execute("INSERT INTO items (name) VALUES ('taken')");
      const endedInside = {
        code: "E_SQL",
        message: "sql failed on app:db: the transaction was ended inside SQLite (rolled back after an error, or by a COMMIT/ROLLBACK statement)",
      };
      const conflict = { code: "E_SQL_CONSTRAINT", message: "sql failed on app:db: UNIQUE constraint failed: items.name" };
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.execute("INSERT INTO items (name) VALUES ('first')");
          await assert.rejects(tx.execute("INSERT OR ROLLBACK INTO items (name) VALUES ('taken')"), conflict);
          await tx.execute("INSERT INTO items (name) VALUES (?)", ["stray"]);
        }),
        endedInside,
      );
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.execute("INSERT OR ROLLBACK INTO items (name) VALUES ('taken')").catch(() => undefined);
          return "carried on";
        }),
        endedInside,
      );
      assert.deepEqual(await db.query("SELECT name FROM items"), [{ name: "taken" }]);
      assert.equal(await db.transaction(async () => "usable again"), "usable again");
    } finally {
      await db.close();
    }
  });

  test("BEGIN, COMMIT, END and ROLLBACK are refused inside a transaction, which stays usable; ROLLBACK TO a savepoint is not", async () => {
    const db = await openSqlite();
    try {
      await db.execute("CREATE TABLE items (name TEXT)");
      const refused = (keyword: string) => ({
        code: "E_SQL",
        message: `sql failed on app:db: ${keyword} cannot run inside transaction(); the transaction commits when its function resolves and rolls back when it throws`,
      });
      await db.transaction(async (tx) => {
        await tx.execute("INSERT INTO items (name) VALUES ('kept')");
        await assert.rejects(tx.execute("COMMIT"), refused("COMMIT"));
        await assert.rejects(tx.query("  /* done */ commit transaction"), refused("COMMIT"));
        await assert.rejects(tx.execute("END"), refused("END"));
        await assert.rejects(tx.execute("ROLLBACK"), refused("ROLLBACK"));
        await assert.rejects(tx.execute("ROLLBACK TRANSACTION"), refused("ROLLBACK"));
        await assert.rejects(db.execute("-- joins the transaction\nBEGIN IMMEDIATE"), refused("BEGIN"));
        await tx.execute("SAVEPOINT mine");
        await tx.execute("INSERT INTO items (name) VALUES ('undone')");
        await tx.execute("ROLLBACK TO mine");
        await tx.execute("RELEASE mine");
        await tx.execute("INSERT INTO items (name) VALUES ('also kept')");
      });
      assert.deepEqual(await db.query("SELECT name FROM items ORDER BY rowid"), [{ name: "kept" }, { name: "also kept" }]);
    } finally {
      await db.close();
    }
  });

  test("a transaction that cannot take the write lock within busy_timeout rejects with E_SQL and frees the connection", async () => {
    const file = temporaryFile();
    const db = await openSqlite({ file, busyTimeoutMs: 10 });
    const other = new BetterSqlite3(file);
    try {
      await db.execute("CREATE TABLE items (name TEXT)");
      other.exec("BEGIN IMMEDIATE");
      await assert.rejects(db.transaction(async () => undefined), (error: Error & { code?: string; hint?: string }) => {
        assert.equal(error.code, "E_SQL");
        assert.equal(error.message, "sql failed on app:db: database is locked");
        assert.equal(error.hint, "another connection held the database lock longer than busy_timeout");
        return true;
      });
      other.exec("COMMIT");
      await db.transaction(async (tx) => void (await tx.execute("INSERT INTO items (name) VALUES ('after')")));
      assert.deepEqual(await db.query("SELECT name FROM items"), [{ name: "after" }]);
    } finally {
      other.close();
      await db.close();
    }
  });

  test("nested savepoints opened concurrently inside one transaction run one at a time", async () => {
    const db = await openSqlite();
    try {
      await db.execute("CREATE TABLE items (name TEXT)");
      await db.transaction(async (tx) => {
        await Promise.all([
          tx.transaction(async (inner) => {
            await inner.execute("INSERT INTO items (name) VALUES ('a')");
            await new Promise((resolve) => setImmediate(resolve));
            throw new Error("undo a");
          }).catch(() => undefined),
          tx.transaction(async (inner) => {
            await inner.execute("INSERT INTO items (name) VALUES ('b')");
          }),
        ]);
      });
      assert.deepEqual(await db.query("SELECT name FROM items"), [{ name: "b" }]);
    } finally {
      await db.close();
    }
  });

  test("close gives up waiting after closeTimeoutMs: the stuck transaction is rolled back and later fails", async () => {
    const file = temporaryFile();
    const lines: { level: string; message: string; fields?: LogFields }[] = [];
    const db = await openSqlite({ file, closeTimeoutMs: 20, logger: capturingLogger(lines) });
    await db.execute("CREATE TABLE items (name TEXT)");
    const started = pending();
    const finish = pending();
    const transaction = db.transaction(async (tx) => {
      await tx.execute("INSERT INTO items (name) VALUES ('stuck')");
      started.resolve();
      await finish.promise;
      await tx.execute("INSERT INTO items (name) VALUES ('too late')");
    });
    await started.promise;
    await db.close();
    assert.equal(db.state, "CLOSED");
    assert.deepEqual(lines, [{ level: "warn", message: "closing with a transaction still open; SQLite rolls it back", fields: { waited_ms: 20 } }]);
    finish.resolve();
    await assert.rejects(transaction, { code: "E_DB_UNAVAILABLE", message: "database app:db is not open" });
    await db.open();
    try {
      assert.deepEqual(await db.query("SELECT name FROM items"), []);
    } finally {
      await db.close();
    }
  });

  test("statements issued while close is waiting are refused", async () => {
    const db = await openSqlite();
    const finish = pending();
    const started = pending();
    const transaction = db.transaction(async () => {
      started.resolve();
      await finish.promise;
    });
    await started.promise;
    const closed = db.close();
    await assert.rejects(db.query("SELECT 1"), { code: "E_DB_UNAVAILABLE", message: "database app:db is not open" });
    finish.resolve();
    await transaction;
    await closed;
  });
});

describe("sqlite driver: group commit", () => {
  /** No time bound: batches end only when nobody waits, a statement is next, or the count bound is hit. */
  const untimed = { batchMaxMs: 60_000 };
  const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

  async function openWithItems(overrides: Partial<SqliteOptions> = {}): Promise<SqliteDatabase> {
    const db = await openSqlite({ ...untimed, ...overrides });
    await db.execute("CREATE TABLE items (name TEXT UNIQUE)");
    return db;
  }

  const insertItem = (db: SqliteDatabase, name: string) =>
    db.transaction(async (tx) => {
      await tx.execute("INSERT INTO items (name) VALUES (?)", [name]);
      await tx.execute("INSERT INTO items (name) VALUES (?)", [`${name}+`]);
      return name;
    });

  async function itemNames(db: SqliteDatabase): Promise<string[]> {
    return (await db.query("SELECT name FROM items ORDER BY rowid")).map((row) => String(row.name));
  }

  test("concurrent transactions share one COMMIT, and each resolves with its own value only after it", async () => {
    const db = await openWithItems({ file: temporaryFile(), synchronous: "FULL" });
    try {
      const before = db.commitCount;
      const commitsSeen: number[] = [];
      const values = await Promise.all(
        Array.from({ length: 100 }, (_, index) => insertItem(db, `item ${index}`).then((value) => (commitsSeen.push(db.commitCount), value))),
      );
      assert.deepEqual(values, Array.from({ length: 100 }, (_, index) => `item ${index}`));
      assert.equal(db.commitCount - before, 1);
      assert.ok(commitsSeen.every((count) => count === before + 1), "no transaction resolved before the COMMIT");
      assert.equal((await itemNames(db)).length, 200);
    } finally {
      await db.close();
    }
  });

  test("a transaction started in the turn of the event loop in which the batch ran dry still joins it", async () => {
    const db = await openWithItems();
    try {
      const before = db.commitCount;
      let second: Promise<string> | undefined;
      const first = db.transaction(async (tx) => {
        await tx.execute("INSERT INTO items (name) VALUES ('first')");
        // Runs after this transaction ended and nobody waited, before the batch looks again.
        setImmediate(() => (second = insertItem(db, "second")));
        return "first";
      });
      assert.equal(await first, "first");
      assert.equal(await second, "second");
      assert.equal(db.commitCount - before, 1);
      assert.deepEqual(await itemNames(db), ["first", "second", "second+"]);
    } finally {
      await db.close();
    }
  });

  test("a read from outside arriving while the batch waits for more ends it: it runs after the COMMIT", async () => {
    const db = await openWithItems();
    try {
      const before = db.commitCount;
      let read: Promise<[number, string[]]> | undefined;
      const first = db.transaction(async (tx) => {
        await tx.execute("INSERT INTO items (name) VALUES ('first')");
        setImmediate(() => (read = itemNames(db).then((names) => [db.commitCount, names])));
      });
      await first;
      assert.deepEqual(await read, [before + 1, ["first"]], "the batch committed before the read ran");
      await insertItem(db, "later");
      assert.equal(db.commitCount - before, 2, "a transaction after the read opens a new batch");
    } finally {
      await db.close();
    }
  });

  test("a write from outside arriving while the batch waits for more joins it, and resolves after its COMMIT", async () => {
    const db = await openWithItems();
    try {
      const before = db.commitCount;
      let statement: Promise<number> | undefined;
      const first = db.transaction(async (tx) => {
        await tx.execute("INSERT INTO items (name) VALUES ('first')");
        setImmediate(() => (statement = db.execute("INSERT INTO items (name) VALUES ('outside')").then(() => db.commitCount)));
      });
      await first;
      assert.equal(await statement, before + 1, "resolved after the shared COMMIT");
      await insertItem(db, "later");
      assert.equal(db.commitCount - before, 2);
      assert.deepEqual(await itemNames(db), ["first", "outside", "later", "later+"]);
    } finally {
      await db.close();
    }
  });

  test("concurrent writes from outside any transaction share one COMMIT, each resolving with its own result only after it", async () => {
    const db = await openWithItems({ file: temporaryFile(), synchronous: "FULL" });
    try {
      const before = db.commitCount;
      const commitsSeen: number[] = [];
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, index) =>
          db.execute("INSERT INTO items (name) VALUES (?)", [`item ${index}`]).then((result) => (commitsSeen.push(db.commitCount), result)),
        ),
      );
      assert.deepEqual(
        results,
        Array.from({ length: 50 }, (_, index) => ({ lastInsertId: index + 1, rowsAffected: 1 })),
      );
      assert.equal(db.commitCount - before, 1);
      assert.ok(commitsSeen.every((count) => count === before + 1), "no write resolved before the COMMIT");
      const updates = await Promise.all([
        db.execute("UPDATE items SET name = name || '!' WHERE rowid <= 10"),
        db.execute("DELETE FROM items WHERE rowid > 40"),
        db.query("INSERT INTO items (name) VALUES ('returned') RETURNING rowid AS id, name"),
      ]);
      assert.deepEqual(updates, [{ lastInsertId: null, rowsAffected: 10 }, { lastInsertId: null, rowsAffected: 10 }, [{ id: 41, name: "returned" }]]);
      assert.equal(db.commitCount - before, 2, "writes and a write through query() in one turn share the next COMMIT");
      assert.equal((await itemNames(db)).length, 41);
    } finally {
      await db.close();
    }
  });

  test("a failing write from outside rejects only its caller; the writes batched with it commit", async () => {
    const db = await openWithItems();
    try {
      await db.execute("INSERT INTO items (name) VALUES ('taken')");
      const before = db.commitCount;
      const results = await Promise.allSettled([
        db.execute("INSERT INTO items (name) VALUES ('a')"),
        db.execute("INSERT INTO items (name) VALUES ('taken')"),
        db.execute("INSERT INTO items (name) SELECT 'b' UNION ALL SELECT 'taken'"),
        db.execute("INSERT INTO items (name) VALUES (?)", [Symbol("not bindable")]),
        insertItem(db, "c"),
      ]);
      assert.deepEqual(
        results.map((result) => (result.status === "fulfilled" ? "ok" : `${(result.reason as { code: string }).code}: ${(result.reason as Error).message}`)),
        [
          "ok",
          "E_SQL_CONSTRAINT: sql failed on app:db: UNIQUE constraint failed: items.name",
          "E_SQL_CONSTRAINT: sql failed on app:db: UNIQUE constraint failed: items.name",
          "E_SQL: sql failed on app:db: cannot bind parameter 1, a symbol",
          "ok",
        ],
      );
      assert.equal(db.commitCount - before, 1);
      assert.deepEqual(await itemNames(db), ["taken", "a", "c", "c+"], "the failed multi-row insert left no row behind");
      // One that cannot even be prepared runs on its own, which reports the error as before.
      await assert.rejects(db.execute("UPDATE items SET missing = 1"), { code: "E_SQL", message: "sql failed on app:db: no such column: missing" });
    } finally {
      await db.close();
    }
  });

  test("DDL from outside a transaction joins the batch and works as before", async () => {
    const db = await openWithItems({ file: temporaryFile() });
    try {
      const before = db.commitCount;
      await Promise.all([
        db.execute("CREATE TABLE notes (body TEXT)"),
        db.execute("CREATE INDEX items_by_name ON items (name)"),
        db.execute("ALTER TABLE items ADD COLUMN size INTEGER"),
      ]);
      assert.equal(db.commitCount - before, 1);
      await db.execute("INSERT INTO notes (body) VALUES ('kept')");
      assert.deepEqual(await db.query("SELECT body FROM notes"), [{ body: "kept" }]);
      assert.deepEqual(await db.query("SELECT name FROM sqlite_master WHERE name = 'items_by_name'"), [{ name: "items_by_name" }]);
      await db.execute("DROP TABLE notes");
      await assert.rejects(db.execute("CREATE TABLE items (name TEXT)"), { code: "E_SQL", message: "sql failed on app:db: table items already exists" });
      await assert.rejects(db.query("SELECT body FROM notes"), { code: "E_SQL", message: "sql failed on app:db: no such table: notes" });
    } finally {
      await db.close();
    }
  });

  test("PRAGMA, VACUUM, ATTACH and scripts with their own BEGIN and COMMIT still run on their own and work", async () => {
    const file = temporaryFile();
    const db = await openWithItems({ file });
    try {
      const before = db.commitCount;
      await db.execute("PRAGMA foreign_keys = OFF");
      assert.deepEqual(await db.query("PRAGMA foreign_keys"), [{ foreign_keys: 0 }], "a PRAGMA inside a transaction would have done nothing");
      await db.execute("PRAGMA foreign_keys = ON");
      assert.deepEqual(await db.query("PRAGMA journal_mode = DELETE"), [{ journal_mode: "delete" }]);
      assert.deepEqual(await db.query("PRAGMA journal_mode = WAL"), [{ journal_mode: "wal" }]);
      await db.execute("PRAGMA user_version = 3");
      assert.deepEqual(await db.query("PRAGMA user_version"), [{ user_version: 3 }]);
      await db.execute("VACUUM");
      await db.execute(`ATTACH DATABASE '${path.join(path.dirname(file), "other.db")}' AS other`);
      await db.execute("DETACH DATABASE other");
      await db.execute("BEGIN; INSERT INTO items (name) VALUES ('scripted'); COMMIT");
      assert.deepEqual(await itemNames(db), ["scripted"]);
      assert.equal(db.commitCount, before, "none of them went through a batch");
    } finally {
      await db.close();
    }
  });

  test("a write from outside on a database that is closing is refused", async () => {
    const db = await openWithItems();
    const finish = pending();
    const started = pending();
    const transaction = db.transaction(async () => {
      started.resolve();
      await finish.promise;
    });
    await started.promise;
    const closed = db.close();
    await assert.rejects(db.execute("INSERT INTO items (name) VALUES ('late')"), { code: "E_DB_UNAVAILABLE", message: "database app:db is not open" });
    finish.resolve();
    await transaction;
    await closed;
  });

  test("batchMaxTransactions bounds a batch, and 1 commits every transaction on its own", async () => {
    for (const [limit, commits] of [
      [3, 4],
      [1, 10],
    ]) {
      const db = await openWithItems({ batchMaxTransactions: limit });
      try {
        const before = db.commitCount;
        await Promise.all(Array.from({ length: 10 }, (_, index) => insertItem(db, `item ${index}`)));
        assert.equal(db.commitCount - before, commits, `batchMaxTransactions ${limit}`);
        assert.equal((await itemNames(db)).length, 20);
      } finally {
        await db.close();
      }
    }
  });

  test("batchMaxMs bounds a batch's time: at 0 every transaction commits on its own", async () => {
    const db = await openWithItems({ batchMaxMs: 0 });
    try {
      const before = db.commitCount;
      await Promise.all(Array.from({ length: 5 }, (_, index) => insertItem(db, `item ${index}`)));
      assert.equal(db.commitCount - before, 5);
    } finally {
      await db.close();
    }
  });

  test("batch limits that make no sense are refused at open", async () => {
    await assert.rejects(makeSqlite({ batchMaxTransactions: 0 }).open(), {
      code: "E_DB_UNAVAILABLE",
      message: "cannot open database app:db at :memory:: batchMaxTransactions must be a whole number of at least 1, got 0",
    });
    await assert.rejects(makeSqlite({ batchMaxMs: -1 }).open(), {
      code: "E_DB_UNAVAILABLE",
      message: "cannot open database app:db at :memory:: batchMaxMs must be a number of milliseconds of at least 0, got -1",
    });
  });

  test("a function that throws inside a batch is rolled back to its savepoint and rejected at once; the others commit", async () => {
    const db = await openWithItems();
    try {
      const before = db.commitCount;
      let commitsWhenRejected = -1;
      const first = insertItem(db, "a");
      const failing = db
        .transaction(async (tx) => {
          await tx.execute("INSERT INTO items (name) VALUES ('undone')");
          throw new Error("handler failed");
        })
        .catch((error: Error) => {
          commitsWhenRejected = db.commitCount;
          throw error;
        });
      const results = await Promise.allSettled([first, failing, insertItem(db, "c")]);
      assert.deepEqual(
        results.map((result) => (result.status === "fulfilled" ? result.value : (result.reason as Error).message)),
        ["a", "handler failed", "c"],
      );
      assert.equal(commitsWhenRejected, before, "rejected before the batch committed");
      assert.equal(db.commitCount - before, 1);
      assert.deepEqual(await itemNames(db), ["a", "a+", "c", "c+"]);
    } finally {
      await db.close();
    }
  });

  describe("with a deferred foreign key", () => {
    async function openWithParents(): Promise<SqliteDatabase> {
      const db = await openSqlite(untimed);
      await db.execute(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)",
      );
      return db;
    }
    const addParent = (db: SqliteDatabase, id: number) => db.transaction(async (tx) => void (await tx.execute("INSERT INTO parent (id) VALUES (?)", [id])));
    const counts = async (db: SqliteDatabase) => (await db.query("SELECT (SELECT COUNT(*) FROM parent) AS parents, (SELECT COUNT(*) FROM child) AS children"))[0];
    const foreignKeyFailure = { name: "TaskrtError", code: "E_SQL_CONSTRAINT", message: "sql failed on app:db: FOREIGN KEY constraint failed" };

    test("a failing COMMIT rejects every transaction of the batch with its error and rolls all of them back", async () => {
      const db = await openWithParents();
      try {
        const before = db.commitCount;
        const results = await Promise.allSettled([
          addParent(db, 1),
          db.transaction(async (tx) => {
            await tx.execute("INSERT INTO parent (id) VALUES (3)");
            throw new Error("own failure");
          }),
          db.transaction(async (tx) => void (await tx.execute("INSERT INTO child (parent_id) VALUES (99)"))),
          addParent(db, 2),
        ]);
        assert.deepEqual(
          results.map((result) => result.status),
          ["rejected", "rejected", "rejected", "rejected"],
        );
        const [first, own, violating, last] = results.map((result) => (result as PromiseRejectedResult).reason);
        assert.equal(own.message, "own failure", "a transaction that failed by itself keeps its own error");
        for (const error of [first, violating, last]) await assert.rejects(Promise.reject(error), foreignKeyFailure);
        assert.equal(db.commitCount, before);
        assert.deepEqual(await counts(db), { parents: 0, children: 0 });
        await addParent(db, 5);
        assert.deepEqual(await counts(db), { parents: 1, children: 0 }, "the next batch commits");
      } finally {
        await db.close();
      }
    });

    test("a violation undone with its transaction's savepoint does not fail the batch", async () => {
      const db = await openWithParents();
      try {
        const results = await Promise.allSettled([
          addParent(db, 1),
          db.transaction(async (tx) => {
            await tx.execute("INSERT INTO child (parent_id) VALUES (99)");
            throw new Error("changed my mind");
          }),
          addParent(db, 2),
        ]);
        assert.deepEqual(
          results.map((result) => result.status),
          ["fulfilled", "rejected", "fulfilled"],
        );
        assert.deepEqual(await counts(db), { parents: 2, children: 0 });
      } finally {
        await db.close();
      }
    });

    test("a lone write queued behind a batch joins it and shares its failing COMMIT: rejected with its error, nothing of it kept", async () => {
      const db = await openWithParents();
      try {
        await db.execute("CREATE TABLE log (entry TEXT)");
        const started = pending();
        const finish = pending();
        const orphan = db.transaction(async (tx) => {
          await tx.execute("INSERT INTO child (parent_id) VALUES (99)");
          started.resolve();
          await finish.promise;
        });
        await started.promise;
        const outside = db.execute("INSERT INTO log (entry) VALUES ('outside')");
        finish.resolve();
        const results = await Promise.allSettled([orphan, outside]);
        for (const result of results) await assert.rejects(Promise.reject((result as PromiseRejectedResult).reason), foreignKeyFailure);
        assert.deepEqual(await db.query("SELECT entry FROM log"), []);
        assert.deepEqual(await counts(db), { parents: 0, children: 0 });
      } finally {
        await db.close();
      }
    });

    test("a statement that runs on its own, queued behind a batch, runs after its COMMIT and is not rolled back when the COMMIT fails", async () => {
      const db = await openWithParents();
      try {
        const started = pending();
        const finish = pending();
        const orphan = db.transaction(async (tx) => {
          await tx.execute("INSERT INTO child (parent_id) VALUES (99)");
          started.resolve();
          await finish.promise;
        });
        await started.promise;
        const outside = db.execute("PRAGMA user_version = 7");
        const after = addParent(db, 1);
        finish.resolve();
        await assert.rejects(orphan, foreignKeyFailure);
        await outside;
        await after;
        assert.deepEqual(await db.query("PRAGMA user_version"), [{ user_version: 7 }]);
        assert.deepEqual(await counts(db), { parents: 1, children: 0 }, "the transaction behind the statement ran in a batch of its own");
      } finally {
        await db.close();
      }
    });
  });

  test("a transaction that ends the batch inside SQLite takes the batch's finished transactions down, rejected as not committed", async () => {
    const db = await openWithItems();
    try {
      await db.execute("INSERT INTO items (name) VALUES ('taken')");
      const results = await Promise.allSettled([
        insertItem(db, "a"),
        db.transaction(async (tx) => void (await tx.execute("INSERT OR ROLLBACK INTO items (name) VALUES ('taken')"))),
        insertItem(db, "c"),
      ]);
      assert.equal(results[0].status, "rejected");
      await assert.rejects(Promise.reject((results[0] as PromiseRejectedResult).reason), {
        name: "TaskrtError",
        code: "E_SQL",
        message: "sql failed on app:db: the transaction was rolled back before its commit, because another transaction in the same commit batch ended the batch inside SQLite",
      });
      await assert.rejects(Promise.reject((results[1] as PromiseRejectedResult).reason), {
        code: "E_SQL_CONSTRAINT",
        message: "sql failed on app:db: UNIQUE constraint failed: items.name",
      });
      assert.deepEqual(results[2], { status: "fulfilled", value: "c" }, "the next transaction opens a new batch");
      assert.deepEqual(await itemNames(db), ["taken", "c", "c+"]);
    } finally {
      await db.close();
    }
  });

  test("nested transactions of a batched transaction are its savepoints, and currentTransaction names each", async () => {
    const db = await openWithItems();
    try {
      const before = db.commitCount;
      const first = insertItem(db, "a");
      const nested = db.transaction(async (tx) => {
        assert.equal(db.currentTransaction(), tx);
        await tx.execute("INSERT INTO items (name) VALUES ('outer')");
        await assert.rejects(
          tx.transaction(async (inner) => {
            assert.equal(db.currentTransaction(), inner);
            await inner.execute("INSERT INTO items (name) VALUES ('inner undone')");
            throw new Error("inner failed");
          }),
          /inner failed/,
        );
        await db.transaction(async (inner) => void (await inner.execute("INSERT INTO items (name) VALUES ('inner kept')")));
        assert.equal(db.currentTransaction(), tx);
      });
      await Promise.all([first, nested, insertItem(db, "c")]);
      assert.equal(db.commitCount - before, 1);
      assert.deepEqual(await itemNames(db), ["a", "a+", "outer", "inner kept", "c", "c+"]);
    } finally {
      await db.close();
    }
  });

  test("close that gives up waiting rejects the batch's finished transactions as not committed", async () => {
    const file = temporaryFile();
    const db = await openWithItems({ file, closeTimeoutMs: 20, logger: capturingLogger([]) });
    const started = pending();
    const finish = pending();
    const finished = insertItem(db, "finished");
    const stuck = db.transaction(async (tx) => {
      started.resolve();
      await finish.promise;
      await tx.execute("INSERT INTO items (name) VALUES ('too late')");
    });
    await started.promise;
    await db.close();
    await assert.rejects(finished, {
      code: "E_DB_UNAVAILABLE",
      message: "database app:db was closed before the transaction committed; SQLite rolled it back",
    });
    finish.resolve();
    await assert.rejects(stuck, { code: "E_DB_UNAVAILABLE", message: "database app:db is not open" });
    await db.open();
    try {
      assert.deepEqual(await itemNames(db), []);
    } finally {
      await db.close();
    }
  });

  describe("reads from outside while a batch is open", () => {
    /** A batch with one finished transaction waiting for the COMMIT and one still running. */
    async function openBatch(db: SqliteDatabase) {
      const started = pending();
      const finish = pending();
      const finished = insertItem(db, "finished");
      const running = db.transaction(async (tx) => {
        await tx.execute("INSERT INTO items (name) VALUES ('running')");
        started.resolve();
        await finish.promise;
      });
      await started.promise;
      return { finish: finish.resolve, done: Promise.all([finished, running]) };
    }

    test("on a file, a read runs at once on the read connection and sees only committed rows", { timeout: 10_000 }, async () => {
      const db = await openWithItems({ file: temporaryFile() });
      try {
        assert.equal(db.hasReadConnection, true);
        await db.execute("INSERT INTO items (name) VALUES ('committed')");
        const batch = await openBatch(db);
        const before = db.commitCount;
        assert.deepEqual(await db.query("SELECT name FROM items WHERE name <> ?", [""]), [{ name: "committed" }]);
        assert.equal(db.commitCount, before, "answered while the batch was still open");
        batch.finish();
        await batch.done;
        assert.deepEqual(await itemNames(db), ["committed", "finished", "finished+", "running"]);
      } finally {
        await db.close();
      }
      assert.equal(db.hasReadConnection, false);
    });

    test("a read the read connection cannot answer waits for the COMMIT and runs on the main connection", async () => {
      const db = await openWithItems({ file: temporaryFile() });
      try {
        const started = pending();
        const finish = pending();
        const creating = db.transaction(async (tx) => {
          await tx.execute("CREATE TABLE fresh (value INTEGER); INSERT INTO fresh (value) VALUES (7)");
          started.resolve();
          await finish.promise;
        });
        await started.promise;
        const before = db.commitCount;
        const fresh = db.query("SELECT value FROM fresh").then((rows) => ({ rows, commits: db.commitCount }));
        const changes = db.query("SELECT total_changes() AS n").then(() => db.commitCount);
        finish.resolve();
        await creating;
        assert.deepEqual(await fresh, { rows: [{ value: 7 }], commits: before + 1 });
        assert.equal(await changes, before + 1, "connection-bound functions run on the main connection");
      } finally {
        await db.close();
      }
    });

    test("reads on the read connection fail with the same errors as on the main one", async () => {
      const db = await openWithItems({ file: temporaryFile() });
      try {
        const batch = await openBatch(db);
        await assert.rejects(db.query("SELECT name FROM items WHERE name = ?"), {
          code: "E_SQL",
          message: "sql failed on app:db: Too few parameter values were provided",
        });
        await assert.rejects(db.query("SELECT ?", [() => 1]), { code: "E_SQL", message: "sql failed on app:db: cannot bind parameter 1, a function" });
        batch.finish();
        await batch.done;
      } finally {
        await db.close();
      }
    });

    test("in memory, or with readConnection off, a read waits for the COMMIT and then sees the batch's rows", async () => {
      for (const overrides of [{}, { file: temporaryFile(), readConnection: false }]) {
        const db = await openWithItems(overrides);
        try {
          assert.equal(db.hasReadConnection, false);
          const batch = await openBatch(db);
          const before = db.commitCount;
          const seen = db.query("SELECT name FROM items ORDER BY rowid").then((rows) => ({ names: rows.map((row) => row.name), commits: db.commitCount }));
          await nextTurn();
          batch.finish();
          await batch.done;
          assert.deepEqual(await seen, { names: ["finished", "finished+", "running"], commits: before + 1 });
        } finally {
          await db.close();
        }
      }
    });
  });
});
