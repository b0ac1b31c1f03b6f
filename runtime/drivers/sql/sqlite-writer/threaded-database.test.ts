import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { TaskrtError } from "../../../errors.ts";
import type { Logger, LogFields } from "../../../logger.ts";
import { sqlDriverContract } from "../contract.ts";
import type { SqliteOptions } from "../sqlite.ts";
import { ThreadedSqliteDatabase, workerExecArgv } from "./threaded-database.ts";

const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "taskrt-sqlite-writer-"));
after(() => fs.rmSync(temporaryRoot, { recursive: true, force: true }));
let fileCounter = 0;

function temporaryFile(): string {
  return path.join(temporaryRoot, `case-${++fileCounter}`, "test.db");
}

function makeThreaded(overrides: Partial<SqliteOptions> = {}): ThreadedSqliteDatabase {
  return new ThreadedSqliteDatabase({ id: "app:db", file: temporaryFile(), busyTimeoutMs: 1000, synchronous: "FULL", closeTimeoutMs: 5000, ...overrides });
}

async function openWithTable(overrides: Partial<SqliteOptions> = {}): Promise<ThreadedSqliteDatabase> {
  const db = makeThreaded(overrides);
  await db.open();
  await db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)");
  return db;
}

/** Another connection to the file: what a separate process would see. */
function outsideReader(db: ThreadedSqliteDatabase): { names(): string[]; close(): void } {
  const connection = new BetterSqlite3(db.path, { readonly: true, fileMustExist: true });
  const select = connection.prepare("SELECT name FROM items ORDER BY id").pluck();
  return { names: () => select.all() as string[], close: () => connection.close() };
}

function pending(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

function isCode(code: string, messagePart?: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof TaskrtError, `expected a TaskrtError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (messagePart) assert.ok(error.message.includes(messagePart), error.message);
    assert.equal(error.entryId, "app:db");
    return true;
  };
}

sqlDriverContract("SQLite on a writer thread (file)", async () => makeThreaded());
sqlDriverContract("SQLite on a writer thread (:memory:)", async () => makeThreaded({ file: ":memory:" }));

describe("SQLite on a writer thread", () => {
  test("reads from outside run on the main thread's read-only connection and never see an open transaction's rows", async () => {
    const db = await openWithTable();
    try {
      assert.equal(db.hasReadConnection, true);
      const inserted = pending();
      const proceed = pending();
      const transaction = db.transaction(async (tx) => {
        await tx.execute("INSERT INTO items (name) VALUES ('uncommitted')");
        inserted.resolve();
        await proceed.promise;
      });
      await inserted.promise;
      assert.deepEqual(await db.query("SELECT name FROM items"), []);
      proceed.resolve();
      await transaction;
      assert.deepEqual(await db.query("SELECT name FROM items"), [{ name: "uncommitted" }]);
    } finally {
      await db.close();
    }
  });

  test("each of many concurrent lone writes and batches is on disk the moment it resolves", async () => {
    const db = await openWithTable();
    const reader = outsideReader(db);
    try {
      const missing: string[] = [];
      await Promise.all(
        Array.from({ length: 200 }, async (_, index) => {
          const name = `item-${index}`;
          if (index % 2 === 0) await db.execute("INSERT INTO items (name) VALUES (?)", [name]);
          else await db.batch([{ sql: "INSERT INTO items (name) VALUES (?)", params: [name] }]);
          // Synchronously, before anything else runs here: the COMMIT covering it must have returned.
          if (!reader.names().includes(name)) missing.push(name);
        }),
      );
      assert.deepEqual(missing, []);
    } finally {
      reader.close();
      await db.close();
    }
  });

  test("a batch resolves to its statements' results and commits them together", async () => {
    const db = await openWithTable();
    try {
      const results = await db.batch([
        { sql: "INSERT INTO items (name) VALUES (?)", params: ["a"] },
        { sql: "INSERT INTO items (name) VALUES (?)", params: ["b"] },
        { sql: "UPDATE items SET name = name || '!' WHERE name = ?", params: ["a"] },
      ]);
      assert.deepEqual(results, [
        { lastInsertId: 1, rowsAffected: 1 },
        { lastInsertId: 2, rowsAffected: 1 },
        { lastInsertId: null, rowsAffected: 1 },
      ]);
      assert.deepEqual(await db.query("SELECT name FROM items ORDER BY id"), [{ name: "a!" }, { name: "b" }]);
    } finally {
      await db.close();
    }
  });

  test("a constraint error rejects only its batch with E_SQL_CONSTRAINT; nothing of it stays and the batches beside it commit", async () => {
    const db = await openWithTable();
    try {
      await db.execute("INSERT INTO items (name) VALUES ('taken')");
      const outcomes = await Promise.allSettled([
        db.batch([{ sql: "INSERT INTO items (name) VALUES ('before')" }]),
        db.batch([
          { sql: "INSERT INTO items (name) VALUES ('lost')" },
          { sql: "INSERT INTO items (name) VALUES ('taken')" },
        ]),
        db.batch([{ sql: "INSERT INTO items (name) VALUES ('after')" }]),
      ]);
      assert.equal(outcomes[0].status, "fulfilled");
      assert.equal(outcomes[2].status, "fulfilled");
      assert.equal(outcomes[1].status, "rejected");
      const reason = (outcomes[1] as PromiseRejectedResult).reason;
      assert.ok(isCode("E_SQL_CONSTRAINT", "UNIQUE constraint failed: items.name")(reason));
      assert.ok(reason.message.startsWith("sql failed on app:db: "), reason.message);
      assert.deepEqual(await db.query("SELECT name FROM items ORDER BY id"), [{ name: "taken" }, { name: "before" }, { name: "after" }]);
    } finally {
      await db.close();
    }
  });

  test("a failing interactive transaction rolls back only itself, with the caller's own error", async () => {
    const db = await openWithTable();
    try {
      const failure = new Error("handler failed");
      const outcomes = await Promise.allSettled([
        db.transaction(async (tx) => void (await tx.execute("INSERT INTO items (name) VALUES ('one')"))),
        db.transaction(async (tx) => {
          await tx.execute("INSERT INTO items (name) VALUES ('doomed')");
          throw failure;
        }),
        db.execute("INSERT INTO items (name) VALUES ('two')"),
        db.transaction(async () => {
          // A statement through the database from inside the function belongs to the transaction.
          await db.execute("INSERT INTO items (name) VALUES ('three')");
          return (await db.query("SELECT count(*) AS n FROM items WHERE name = 'three'"))[0].n;
        }),
      ]);
      assert.deepEqual(
        outcomes.map((outcome) => outcome.status),
        ["fulfilled", "rejected", "fulfilled", "fulfilled"],
      );
      assert.equal((outcomes[1] as PromiseRejectedResult).reason, failure);
      assert.equal((outcomes[3] as PromiseFulfilledResult<unknown>).value, 1, "the transaction reads its own write");
      assert.deepEqual(await db.query("SELECT name FROM items ORDER BY name"), [{ name: "one" }, { name: "three" }, { name: "two" }]);
    } finally {
      await db.close();
    }
  });

  test("a nested transaction that throws rolls back to its savepoint; the outer one commits", async () => {
    const db = await openWithTable();
    try {
      await db.transaction(async (tx) => {
        await tx.execute("INSERT INTO items (name) VALUES ('outer')");
        await assert.rejects(
          tx.transaction(async (inner) => {
            await inner.execute("INSERT INTO items (name) VALUES ('inner')");
            throw new Error("inner failed");
          }),
          /inner failed/,
        );
        await tx.transaction(async (inner) => void (await inner.execute("INSERT INTO items (name) VALUES ('kept')")));
      });
      assert.deepEqual(await db.query("SELECT name FROM items ORDER BY id"), [{ name: "outer" }, { name: "kept" }]);
    } finally {
      await db.close();
    }
  });

  test("a writer thread that dies rejects every pending call with E_DB_UNAVAILABLE naming the entry; open() starts a new one", async () => {
    const lines: { level: string; message: string }[] = [];
    const logger: Logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: (message: string, _fields?: LogFields) => lines.push({ level: "error", message }),
      forEntry: () => logger,
    };
    const db = await openWithTable({ logger });
    await db.execute("INSERT INTO items (name) VALUES ('committed')");
    const inside = pending();
    const hold = pending();
    const transaction = db.transaction(async (tx) => {
      await tx.execute("INSERT INTO items (name) VALUES ('in flight')");
      inside.resolve();
      await hold.promise;
      await tx.execute("INSERT INTO items (name) VALUES ('never')");
    });
    await inside.promise;
    const write = db.execute("INSERT INTO items (name) VALUES ('queued')");
    await db.terminateWriter();
    hold.resolve();
    await assert.rejects(transaction, isCode("E_DB_UNAVAILABLE", "database app:db is unavailable: its writer thread exited"));
    await assert.rejects(write, isCode("E_DB_UNAVAILABLE", "writer thread exited"));
    await assert.rejects(db.execute("INSERT INTO items (name) VALUES ('later')"), isCode("E_DB_UNAVAILABLE", "writer thread exited"));
    // What the readiness probe asks: it reports the database down, naming why.
    await assert.rejects(db.query("SELECT 1"), isCode("E_DB_UNAVAILABLE", "database app:db is unavailable: its writer thread exited"));
    assert.equal(db.state, "CLOSED");
    assert.ok(lines.some((line) => line.message.includes("writer thread exited")), JSON.stringify(lines));
    await db.open();
    try {
      assert.deepEqual(await db.query("SELECT name FROM items ORDER BY id"), [{ name: "committed" }]);
      await db.execute("INSERT INTO items (name) VALUES ('after restart')");
      assert.equal((await db.query("SELECT count(*) AS n FROM items"))[0].n, 2);
    } finally {
      await db.close();
    }
  });

  test("close during load lets what was sent finish: every write that resolved is on disk, the rest are refused clearly", async () => {
    const db = await openWithTable();
    const file = db.path;
    const outcomes: Promise<string | undefined>[] = [];
    for (let index = 0; index < 300; index++) {
      const name = `load-${index}`;
      const write = index % 3 === 0 ? db.transaction(async (tx) => void (await tx.execute("INSERT INTO items (name) VALUES (?)", [name]))) : db.batch([{ sql: "INSERT INTO items (name) VALUES (?)", params: [name] }]);
      outcomes.push(
        write.then(
          () => name,
          (error: unknown) => {
            assert.ok(isCode("E_DB_UNAVAILABLE")(error));
            return undefined;
          },
        ),
      );
    }
    const closed = db.close();
    const refused = assert.rejects(db.execute("INSERT INTO items (name) VALUES ('after close')"), isCode("E_DB_UNAVAILABLE", "database app:db is not open"));
    await closed;
    await refused;
    const resolved = (await Promise.all(outcomes)).filter((name): name is string => name !== undefined);
    assert.equal(resolved.length, 300, "what was sent before close() finishes");
    const connection = new BetterSqlite3(file, { readonly: true });
    try {
      const stored = new Set(connection.prepare("SELECT name FROM items").pluck().all() as string[]);
      assert.deepEqual(resolved.filter((name) => !stored.has(name)), []);
    } finally {
      connection.close();
    }
  });

  test("a statement error keeps its SQLite code as the cause, as on the main thread", async () => {
    const db = await openWithTable();
    try {
      await assert.rejects(db.execute("INSERT INTO nowhere VALUES (1)"), (error: unknown) => {
        assert.ok(isCode("E_SQL", "no such table: nowhere")(error));
        assert.equal(((error as Error).cause as { code?: string }).code, "SQLITE_ERROR");
        return true;
      });
    } finally {
      await db.close();
    }
  });
});

test("the writer thread gets the process's Node options except code given with -e/-p, which a worker refuses", () => {
  assert.deepEqual(workerExecArgv(["--conditions=taskrt-source", "--import", "tsx", "--input-type=module", "-e", "console.log(1)"]), ["--conditions=taskrt-source", "--import", "tsx"]);
  assert.deepEqual(workerExecArgv(["--eval=1", "--print", "2", "--max-old-space-size=512"]), ["--max-old-space-size=512"]);
});
