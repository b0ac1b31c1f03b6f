/**
 * @module drivers/sql/contract — the test suite every SQL driver passes, registered with node:test.
 *
 * `makeDatabase` returns a new database that is not yet open; the suite opens and closes it.
 * Each test creates its own `contract_*` table (dropping any left over), so a server database
 * such as PostgreSQL may be shared between runs. The SQL is written for SQLite and PostgreSQL alike.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { TaskrtError } from "../../errors.ts";
import type { SqlDatabase, SqlExecutor } from "./driver.ts";

export function sqlDriverContract(name: string, makeDatabase: () => Promise<SqlDatabase>): void {
  async function withDatabase(table: string, run: (db: SqlDatabase) => Promise<void>): Promise<void> {
    const db = await makeDatabase();
    await db.open();
    try {
      await db.execute(`DROP TABLE IF EXISTS ${table}`);
      await db.execute(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, qty INTEGER)`);
      await run(db);
      await db.execute(`DROP TABLE IF EXISTS ${table}`);
    } finally {
      await db.close();
    }
  }

  async function names(db: SqlExecutor, table: string): Promise<string[]> {
    const rows = await db.query(`SELECT name FROM ${table} ORDER BY id`);
    return rows.map((row) => String(row.name));
  }

  function sqlFailure(db: SqlDatabase, code: string): (error: unknown) => boolean {
    return (error) => {
      assert.ok(error instanceof TaskrtError, `expected a TaskrtError, got ${String(error)}`);
      assert.equal(error.code, code);
      assert.ok(error.message.startsWith(`sql failed on ${db.id}: `), error.message);
      assert.equal(error.entryId, db.id);
      assert.ok(error.cause instanceof Error, "the driver's own error is the cause");
      return true;
    };
  }

  function pending(): { promise: Promise<void>; resolve: () => void } {
    let resolve!: () => void;
    const promise = new Promise<void>((done) => (resolve = done));
    return { promise, resolve };
  }

  describe(`${name} SQL driver contract`, () => {
    test("query returns rows as plain objects keyed by column name, NULL as null", async () => {
      await withDatabase("contract_rows", async (db) => {
        await db.execute("INSERT INTO contract_rows (id, name, qty) VALUES (?, ?, ?), (?, ?, ?)", [1, "a", 3, 2, "b", null]);
        const rows = await db.query("SELECT id, name, qty FROM contract_rows ORDER BY id");
        assert.deepEqual(rows, [
          { id: 1, name: "a", qty: 3 },
          { id: 2, name: "b", qty: null },
        ]);
        assert.equal(Object.getPrototypeOf(rows[0]), Object.prototype);
      });
    });

    test("query binds ? placeholders in order and works without a parameter list", async () => {
      await withDatabase("contract_params", async (db) => {
        await db.execute("INSERT INTO contract_params (id, name, qty) VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)");
        const rows = await db.query("SELECT name FROM contract_params WHERE qty >= ? AND name <> ? ORDER BY id", [2, "c"]);
        assert.deepEqual(rows, [{ name: "b" }]);
        assert.deepEqual(await db.query("SELECT CAST(COUNT(*) AS INTEGER) AS n FROM contract_params"), [{ n: 3 }]);
      });
    });

    test("execute reports rowsAffected, and lastInsertId null for statements that insert nothing", async () => {
      await withDatabase("contract_exec", async (db) => {
        const inserted = await db.execute("INSERT INTO contract_exec (id, name, qty) VALUES (?, ?, ?), (?, ?, ?)", [1, "a", 1, 2, "b", 2]);
        assert.equal(inserted.rowsAffected, 2);
        assert.deepEqual(await db.execute("UPDATE contract_exec SET qty = qty + 1"), { lastInsertId: null, rowsAffected: 2 });
        assert.deepEqual(await db.execute("DELETE FROM contract_exec WHERE id = ?", [1]), { lastInsertId: null, rowsAffected: 1 });
        assert.deepEqual(await db.execute("DELETE FROM contract_exec WHERE id = ?", [99]), { lastInsertId: null, rowsAffected: 0 });
      });
    });

    test("query runs INSERT … RETURNING and returns the new rows; execute runs it once", async () => {
      await withDatabase("contract_returning", async (db) => {
        const rows = await db.query("INSERT INTO contract_returning (id, name) VALUES (?, ?) RETURNING id, name", [7, "seven"]);
        assert.deepEqual(rows, [{ id: 7, name: "seven" }]);
        const result = await db.execute("INSERT INTO contract_returning (id, name) VALUES (?, ?) RETURNING id", [8, "eight"]);
        assert.equal(result.rowsAffected, 1);
        assert.deepEqual(await names(db, "contract_returning"), ["seven", "eight"]);
      });
    });

    test("query on a statement that returns no rows runs it and resolves with an empty list", async () => {
      await withDatabase("contract_query_write", async (db) => {
        assert.deepEqual(await db.query("INSERT INTO contract_query_write (id, name) VALUES (?, ?)", [1, "a"]), []);
        assert.deepEqual(await names(db, "contract_query_write"), ["a"]);
      });
    });

    test("execute runs a script of several statements when it has no parameters", async () => {
      await withDatabase("contract_script", async (db) => {
        await db.execute(
          "INSERT INTO contract_script (id, name) VALUES (1, 'a'); INSERT INTO contract_script (id, name) VALUES (2, 'b');",
        );
        assert.deepEqual(await names(db, "contract_script"), ["a", "b"]);
      });
    });

    test("a failing statement rejects with E_SQL naming the database, the driver's error as cause", async () => {
      await withDatabase("contract_fail", async (db) => {
        await assert.rejects(db.query("SELECT * FROM contract_no_such_table"), sqlFailure(db, "E_SQL"));
        await assert.rejects(db.execute("UPDATE contract_no_such_table SET x = 1"), sqlFailure(db, "E_SQL"));
        assert.deepEqual(await db.query("SELECT CAST(COUNT(*) AS INTEGER) AS n FROM contract_fail"), [{ n: 0 }], "the database stays usable");
      });
    });

    test("a unique or not-null violation rejects with E_SQL_CONSTRAINT", async () => {
      await withDatabase("contract_constraint", async (db) => {
        await db.execute("INSERT INTO contract_constraint (id, name) VALUES (?, ?)", [1, "a"]);
        await assert.rejects(db.execute("INSERT INTO contract_constraint (id, name) VALUES (?, ?)", [2, "a"]), sqlFailure(db, "E_SQL_CONSTRAINT"));
        await assert.rejects(db.execute("INSERT INTO contract_constraint (id, name) VALUES (?, ?)", [3, null]), sqlFailure(db, "E_SQL_CONSTRAINT"));
      });
    });

    test("a transaction commits when its function resolves and resolves with the function's value", async () => {
      await withDatabase("contract_commit", async (db) => {
        const value = await db.transaction(async (tx) => {
          await tx.execute("INSERT INTO contract_commit (id, name) VALUES (?, ?)", [1, "a"]);
          await tx.execute("INSERT INTO contract_commit (id, name) VALUES (?, ?)", [2, "b"]);
          return (await tx.query("SELECT CAST(COUNT(*) AS INTEGER) AS n FROM contract_commit"))[0].n;
        });
        assert.equal(value, 2);
        assert.deepEqual(await names(db, "contract_commit"), ["a", "b"]);
      });
    });

    test("a transaction rolls back when its function throws and rethrows that same error", async () => {
      await withDatabase("contract_rollback", async (db) => {
        const failure = new Error("handler failed");
        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.execute("INSERT INTO contract_rollback (id, name) VALUES (?, ?)", [1, "a"]);
            throw failure;
          }),
          (error) => error === failure,
        );
        assert.deepEqual(await names(db, "contract_rollback"), []);
      });
    });

    test("a transaction whose statement failed rolls back everything when the error propagates", async () => {
      await withDatabase("contract_rollback_sql", async (db) => {
        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.execute("INSERT INTO contract_rollback_sql (id, name) VALUES (?, ?)", [1, "a"]);
            await tx.execute("INSERT INTO contract_rollback_sql (id, name) VALUES (?, ?)", [2, "a"]);
          }),
          sqlFailure(db, "E_SQL_CONSTRAINT"),
        );
        assert.deepEqual(await names(db, "contract_rollback_sql"), []);
      });
    });

    test("a nested transaction is a savepoint: rolling it back keeps the outer transaction's work", async () => {
      await withDatabase("contract_nested", async (db) => {
        await db.transaction(async (tx) => {
          await tx.execute("INSERT INTO contract_nested (id, name) VALUES (?, ?)", [1, "outer"]);
          await assert.rejects(
            db.transaction(async (inner) => {
              await inner.execute("INSERT INTO contract_nested (id, name) VALUES (?, ?)", [2, "inner"]);
              throw new Error("inner failed");
            }),
            /inner failed/,
          );
          await db.transaction(async (inner) => {
            await inner.execute("INSERT INTO contract_nested (id, name) VALUES (?, ?)", [3, "kept"]);
          });
        });
        assert.deepEqual(await names(db, "contract_nested"), ["outer", "kept"]);
      });
    });

    test("a nested transaction's work is undone when the outer transaction rolls back", async () => {
      await withDatabase("contract_nested_outer", async (db) => {
        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.execute("INSERT INTO contract_nested_outer (id, name) VALUES (?, ?)", [1, "outer"]);
            await db.transaction(async (inner) => {
              await inner.execute("INSERT INTO contract_nested_outer (id, name) VALUES (?, ?)", [2, "inner"]);
            });
            throw new Error("outer failed");
          }),
          /outer failed/,
        );
        assert.deepEqual(await names(db, "contract_nested_outer"), []);
      });
    });

    test("currentTransaction returns the innermost open transaction of this async context, undefined elsewhere", async () => {
      await withDatabase("contract_current", async (db) => {
        assert.equal(db.currentTransaction(), undefined);
        await db.transaction(async (tx) => {
          assert.equal(db.currentTransaction(), tx);
          await db.transaction(async (inner) => {
            assert.equal(db.currentTransaction(), inner);
          });
          assert.equal(db.currentTransaction(), tx);
        });
        assert.equal(db.currentTransaction(), undefined);
      });
    });

    test("a transaction's executor refuses statements once the transaction finished", async () => {
      await withDatabase("contract_finished", async (db) => {
        let leaked: SqlExecutor | undefined;
        await db.transaction(async (tx) => {
          leaked = tx;
        });
        await assert.rejects(leaked!.query("SELECT 1 AS one"), {
          name: "TaskrtError",
          code: "E_TX_FINISHED",
          message: `transaction on ${db.id} is already finished`,
        });
      });
    });

    test("a statement from another async context during a transaction is not rolled back with it", async () => {
      await withDatabase("contract_isolated", async (db) => {
        const started = pending();
        const finish = pending();
        const transaction = db.transaction(async (tx) => {
          await tx.execute("INSERT INTO contract_isolated (id, name) VALUES (?, ?)", [1, "in transaction"]);
          started.resolve();
          await finish.promise;
          throw new Error("roll back");
        });
        await started.promise;
        const outside = db.execute("INSERT INTO contract_isolated (id, name) VALUES (?, ?)", [2, "outside"]);
        const seen = db.query("SELECT name FROM contract_isolated ORDER BY id");
        finish.resolve();
        await assert.rejects(transaction, /roll back/);
        await outside;
        assert.ok(!(await seen).some((row) => row.name === "in transaction"), "uncommitted rows are never visible outside");
        assert.deepEqual(await names(db, "contract_isolated"), ["outside"]);
      });
    });

    test("close waits for the open transaction to finish, then refuses statements", async () => {
      await withDatabase("contract_close_wait", async (db) => {
        const events: string[] = [];
        const started = pending();
        const finish = pending();
        const transaction = db.transaction(async (tx) => {
          started.resolve();
          await finish.promise;
          await tx.execute("INSERT INTO contract_close_wait (id, name) VALUES (?, ?)", [1, "late"]);
          events.push("statement after close() was called");
          return "committed";
        });
        await started.promise;
        const closed = db.close().then(() => events.push("closed"));
        finish.resolve();
        assert.equal(await transaction, "committed");
        await closed;
        assert.deepEqual(events, ["statement after close() was called", "closed"]);
        await assert.rejects(db.query("SELECT 1 AS one"), {
          code: "E_DB_UNAVAILABLE",
          message: `database ${db.id} is not open`,
        });
        await db.open();
      });
    });

    test("close can be called more than once, also concurrently", async () => {
      const db = await makeDatabase();
      await db.open();
      await Promise.all([db.close(), db.close()]);
      await db.close();
    });

    test("statements before open and after close reject with E_DB_UNAVAILABLE", async () => {
      const db = await makeDatabase();
      const notOpen = { name: "TaskrtError", code: "E_DB_UNAVAILABLE", message: `database ${db.id} is not open` };
      await assert.rejects(db.query("SELECT 1 AS one"), notOpen);
      await assert.rejects(db.execute("SELECT 1 AS one"), notOpen);
      await assert.rejects(db.transaction(async () => undefined), notOpen);
      await db.open();
      assert.deepEqual(await db.query("SELECT 1 AS one"), [{ one: 1 }]);
      await db.close();
      await assert.rejects(db.query("SELECT 1 AS one"), notOpen);
      await assert.rejects(db.transaction(async () => undefined), notOpen);
    });
  });
}
