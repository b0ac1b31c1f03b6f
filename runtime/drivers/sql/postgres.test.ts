import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { inspect } from "node:util";
import pg from "pg";
import { sqlDriverContract } from "./contract.ts";
import { PostgresDatabase, type PostgresConnection, type PostgresOptions } from "./postgres.ts";
import { translatePlaceholders } from "./postgres-placeholders.ts";
import { parseInt8 } from "./postgres-values.ts";
import type { Logger, LogFields } from "../../logger.ts";
import { createLogger } from "../../logger.ts";
import { TaskrtError } from "../../errors.ts";
import { runInContext, type CallContext } from "../../modules/context.ts";
import { sql } from "../../modules/sql.ts";
import { LOCAL_POSTGRES, serviceSkip } from "../../../test/support/services.ts";

const skip = await serviceSkip("postgres", LOCAL_POSTGRES.host, LOCAL_POSTGRES.port);
/** Every table of this file lives in its own schema, so parallel runs and other tests never meet it. */
const SCHEMA = `taskrt_pg_driver_${process.pid}`;
let applicationCounter = 0;

interface LogLine {
  level: string;
  message: string;
  fields?: LogFields;
}

/** Keeps log lines and lets a test await one, so waiting is on an event, not on time. */
function capturingLogger(): { logger: Logger; lines: LogLine[]; next(predicate: (line: LogLine) => boolean, count?: number): Promise<void> } {
  const lines: LogLine[] = [];
  const waiters: { predicate: (line: LogLine) => boolean; count: number; resolve: () => void }[] = [];
  const record = (level: string) => (message: string, fields?: LogFields) => {
    const line = { level, message, fields };
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (lines.filter(waiter.predicate).length >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  const logger: Logger = { debug: record("debug"), info: record("info"), warn: record("warn"), error: record("error"), forEntry: () => logger };
  return {
    logger,
    lines,
    next(predicate, count = 1) {
      if (lines.filter(predicate).length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ predicate, count, resolve }));
    },
  };
}

function connection(overrides: Partial<PostgresConnection> = {}): PostgresConnection {
  return {
    host: LOCAL_POSTGRES.host,
    port: LOCAL_POSTGRES.port,
    database: LOCAL_POSTGRES.database,
    user: LOCAL_POSTGRES.user,
    ssl: false,
    applicationName: `taskrt-test-${process.pid}-${++applicationCounter}`,
    searchPath: SCHEMA,
    connectTimeoutMs: 2000,
    ...overrides,
  };
}

function makePostgres(overrides: { connection?: Partial<PostgresConnection> } & Partial<Omit<PostgresOptions, "connection">> = {}): PostgresDatabase {
  const settings = connection(overrides.connection);
  return new PostgresDatabase({
    id: "app:db",
    connection: () => settings,
    pool: { maxOpen: 4, maxIdle: 4, maxLifetimeMs: 0, ...overrides.pool },
    closeTimeoutMs: overrides.closeTimeoutMs ?? 5000,
    logger: overrides.logger,
  });
}

async function withPostgres(run: (db: PostgresDatabase) => Promise<void>, overrides: Parameters<typeof makePostgres>[0] = {}): Promise<void> {
  const db = makePostgres(overrides);
  await db.open();
  try {
    await run(db);
  } finally {
    await db.close();
  }
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: LOCAL_POSTGRES.host, port: LOCAL_POSTGRES.port, user: LOCAL_POSTGRES.user, database: LOCAL_POSTGRES.database });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Ends the server sessions of one pool, as a database restart would. */
async function terminateBackends(applicationName: string): Promise<number> {
  return admin(async (client) => {
    const result = await client.query("SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = $1", [applicationName]);
    return result.rows.filter((row) => row.ended === true).length;
  });
}

function pending(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A TCP server that accepts and tracks sockets; `close` ends them all. */
async function tcpServer(onSocket: (socket: net.Socket) => void): Promise<{ port: number; sockets: Set<net.Socket>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    onSocket(socket);
  });
  const port = await listen(server);
  return {
    port,
    sockets,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Forwards to the local PostgreSQL while up; while down, cuts every connection and refuses new ones. */
async function outageProxy(): Promise<{ port: number; down(): void; up(): void; close(): Promise<void> }> {
  let isUp = true;
  const upstreams = new Set<net.Socket>();
  const server = await tcpServer((client) => {
    if (!isUp) return void client.destroy();
    const upstream = net.connect({ host: LOCAL_POSTGRES.host, port: LOCAL_POSTGRES.port });
    upstreams.add(upstream);
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => {
      upstreams.delete(upstream);
      client.destroy();
    });
    client.on("close", () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  return {
    port: server.port,
    down() {
      isUp = false;
      for (const socket of server.sockets) socket.destroy();
      for (const socket of upstreams) socket.destroy();
    },
    up() {
      isUp = true;
    },
    close: () => server.close(),
  };
}

/** Speaks just enough of the PostgreSQL protocol to ask for a password and refuse it. */
async function refusingServer(): Promise<{ port: number; passwords: string[]; close(): Promise<void> }> {
  const passwords: string[] = [];
  const server = await tcpServer((socket) => {
    let buffered = Buffer.alloc(0);
    let started = false;
    socket.on("data", (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!started && buffered.length >= 4 && buffered.length >= buffered.readInt32BE(0)) {
        started = true;
        buffered = buffered.subarray(buffered.readInt32BE(0));
        const askCleartext = Buffer.alloc(9);
        askCleartext.write("R", 0);
        askCleartext.writeInt32BE(8, 1);
        askCleartext.writeInt32BE(3, 5);
        socket.write(askCleartext);
      }
      if (started && buffered.length >= 5 && buffered[0] === "p".charCodeAt(0) && buffered.length >= 1 + buffered.readInt32BE(1)) {
        passwords.push(buffered.subarray(5, 1 + buffered.readInt32BE(1) - 1).toString("utf8"));
        const fields = Buffer.from('SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "app"\0\0', "utf8");
        const header = Buffer.alloc(5);
        header.write("E", 0);
        header.writeInt32BE(4 + fields.length, 1);
        socket.end(Buffer.concat([header, fields]));
      }
    });
  });
  return { port: server.port, passwords, close: () => server.close() };
}

/** A port nothing listens on (taken from the OS, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("postgres placeholders", () => {
  test("each ? outside literals, identifiers and comments becomes $1, $2, … in order", () => {
    assert.deepEqual(translatePlaceholders("SELECT * FROM t WHERE a = ? AND b IN (?, ?)"), {
      text: "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)",
      placeholders: 3,
      positional: false,
    });
  });

  test("? inside strings, quoted identifiers, comments and dollar-quoted bodies stays", () => {
    const sql = [
      "SELECT '?', 'it''s ?', E'\\'?', \"col?\", \"a\"\"?\"",
      "-- a comment ?",
      "/* block ? /* nested ? */ still ? */",
      "$$ body ? $$, $fn$ body ? $fn$,",
      "?",
    ].join("\n");
    const translated = translatePlaceholders(sql);
    assert.equal(translated.placeholders, 1);
    assert.equal(translated.text, sql.slice(0, -1) + "$1");
  });

  test("?? is a literal ? (jsonb operators), and an untouched statement is returned as is", () => {
    assert.deepEqual(translatePlaceholders("SELECT doc ?? 'a', doc ??| ?"), { text: "SELECT doc ? 'a', doc ?| $1", placeholders: 1, positional: false });
    const plain = "SELECT 1";
    assert.equal(translatePlaceholders(plain).text, plain);
  });

  test("$1 parameters are noticed; a $ inside an identifier is not one", () => {
    assert.deepEqual(translatePlaceholders("SELECT $1, $2"), { text: "SELECT $1, $2", placeholders: 0, positional: true });
    assert.equal(translatePlaceholders("SELECT a$1 FROM t").positional, false);
  });

  test("int8 text reads as a number while exact, as text beyond 2^53", () => {
    assert.equal(parseInt8("9007199254740991"), 9007199254740991);
    assert.equal(parseInt8("-42"), -42);
    assert.equal(parseInt8("9007199254740993"), "9007199254740993");
  });
});

describe("postgres driver", { skip }, () => {
  before(async () => {
    await admin((client) => client.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE; CREATE SCHEMA ${SCHEMA}`));
  });
  after(async () => {
    await admin((client) => client.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`));
  });

  sqlDriverContract("postgres", async () => makePostgres());

  describe("statements", () => {
    test("dialect is postgres; a jsonb ?? operator reaches the server as ?", async () => {
      await withPostgres(async (db) => {
        assert.equal(db.dialect, "postgres");
        assert.deepEqual(await db.query(`SELECT '{"a": 1}'::jsonb ?? 'a' AS has, ? AS p`, ["x"]), [{ has: true, p: "x" }]);
      });
    });

    test("a statement already numbered $1 runs as written", async () => {
      await withPostgres(async (db) => {
        assert.deepEqual(await db.query("SELECT $1::int + $2::int AS n", [2, 3]), [{ n: 5 }]);
      });
    });

    test("placeholder mistakes are refused with E_SQL before reaching the server", async () => {
      await withPostgres(async (db) => {
        await assert.rejects(db.query("SELECT ? AS a, $2 AS b", [1, 2]), {
          code: "E_SQL",
          message: "sql failed on app:db: the statement mixes ? and $n placeholders",
        });
        await assert.rejects(db.query("SELECT ? AS a, ? AS b", [1]), {
          code: "E_SQL",
          message: "sql failed on app:db: the statement has 2 placeholders but 1 parameter was given",
        });
        await assert.rejects(db.execute("SELECT 1", [1, 2]), {
          code: "E_SQL",
          message: "sql failed on app:db: the statement has 0 placeholders but 2 parameters were given",
        });
        await assert.rejects(db.query("SELECT ?", "x" as unknown as unknown[]), {
          code: "E_SQL",
          message: "sql failed on app:db: parameters must be an array, got string",
        });
        await assert.rejects(db.query("SELECT ? AS f", [() => 1]), {
          code: "E_SQL",
          message: "sql failed on app:db: cannot bind parameter 1, a function",
        });
        const circular: Record<string, unknown> = {};
        circular.self = circular;
        await assert.rejects(db.query("SELECT ? AS f", [circular]), (error: TaskrtError) => {
          assert.equal(error.code, "E_SQL");
          assert.match(error.message, /^sql failed on app:db: cannot bind parameter 1, an object JSON cannot encode \(Converting circular structure/);
          return true;
        });
        assert.equal(db.poolStats?.total, 1, "only the first check ever needed a connection: the rest failed before");
      });
    });

    test("parameters bind as the SQLite driver binds them; results come back JSON-friendly", async () => {
      await withPostgres(async (db) => {
        const when = new Date("2024-05-06T07:08:09.010Z");
        const rows = await db.query(
          "SELECT ?::text AS date, ?::jsonb AS object, ?::text AS list, ?::int8 AS big, ?::boolean AS flag, ?::text AS missing, ?::bytea AS bytes",
          [when, { a: [1, "x"] }, [1, 2], 1234567890123456789n, true, undefined, new Uint8Array([1, 2, 255])],
        );
        assert.deepEqual(rows, [
          {
            date: "2024-05-06T07:08:09.010Z",
            object: { a: [1, "x"] },
            list: "[1,2]",
            big: "1234567890123456789",
            flag: true,
            missing: null,
            bytes: Buffer.from([1, 2, 255]),
          },
        ]);
        assert.deepEqual(
          await db.query(
            "SELECT COUNT(*) AS n, 9007199254740993::int8 AS huge, 1.50::numeric AS price, TIMESTAMPTZ '2024-01-02 03:04:05+00' AT TIME ZONE 'UTC' AS at, DATE '2024-01-02' AS day, ARRAY[1, 2]::int8[] AS ids",
          ),
          [{ n: 1, huge: "9007199254740993", price: "1.50", at: "2024-01-02 03:04:05", day: "2024-01-02", ids: [1, 2] }],
        );
      });
    });

    test("lastInsertId is the integer id an INSERT … RETURNING gives back, and null otherwise", async () => {
      await withPostgres(async (db) => {
        await db.execute("DROP TABLE IF EXISTS pg_ids; CREATE TABLE pg_ids (id BIGSERIAL PRIMARY KEY, code TEXT UNIQUE, name TEXT)");
        assert.deepEqual(await db.execute("INSERT INTO pg_ids (name) VALUES (?)", ["a"]), { lastInsertId: null, rowsAffected: 1 });
        assert.deepEqual(await db.execute("INSERT INTO pg_ids (name) VALUES (?) RETURNING id", ["b"]), { lastInsertId: 2, rowsAffected: 1 });
        assert.deepEqual(await db.execute("INSERT INTO pg_ids (name) VALUES (?), (?) RETURNING name, id", ["c", "d"]), { lastInsertId: 4, rowsAffected: 2 });
        assert.deepEqual(await db.execute("INSERT INTO pg_ids (code, name) VALUES (?, ?) RETURNING code", ["x-1", "e"]), { lastInsertId: null, rowsAffected: 1 });
        assert.deepEqual(await db.execute("UPDATE pg_ids SET name = 'z' WHERE id > ? RETURNING id", [3]), { lastInsertId: null, rowsAffected: 2 });
        await db.execute("DROP TABLE pg_ids");
      });
    });

    test("a script runs as one call: execute sums its rows, query answers with its last statement's rows", async () => {
      await withPostgres(async (db) => {
        await db.execute("DROP TABLE IF EXISTS pg_script; CREATE TABLE pg_script (id INTEGER PRIMARY KEY)");
        const result = await db.execute("INSERT INTO pg_script VALUES (1), (2); INSERT INTO pg_script VALUES (3); DELETE FROM pg_script WHERE id = 1");
        assert.deepEqual(result, { lastInsertId: null, rowsAffected: 4 });
        assert.deepEqual(await db.query("UPDATE pg_script SET id = id + 10; SELECT id FROM pg_script ORDER BY id"), [{ id: 12 }, { id: 13 }]);
        await db.execute("DROP TABLE pg_script");
      });
    });

    test("a failed statement reports PostgreSQL's message and hint; class 23 is E_SQL_CONSTRAINT", async () => {
      await withPostgres(async (db) => {
        await assert.rejects(db.query("SELECT * FROM pg_no_such_table"), {
          code: "E_SQL",
          message: 'sql failed on app:db: relation "pg_no_such_table" does not exist',
        });
        await assert.rejects(db.query("SELECT lenght('x')"), (error: TaskrtError) => {
          assert.equal(error.message, "sql failed on app:db: function lenght(unknown) does not exist");
          assert.match(error.hint ?? "", /No function matches/);
          return true;
        });
        await db.execute("DROP TABLE IF EXISTS pg_checked; CREATE TABLE pg_checked (n INTEGER CHECK (n > 0))");
        await assert.rejects(db.execute("INSERT INTO pg_checked VALUES (?)", [0]), {
          code: "E_SQL_CONSTRAINT",
          message: 'sql failed on app:db: new row for relation "pg_checked" violates check constraint "pg_checked_n_check"',
        });
        await db.execute("DROP TABLE pg_checked");
      });
    });

    test("options reach the session: application_name, search_path, statement_timeout", async () => {
      await withPostgres(
        async (db) => {
          assert.deepEqual(await db.query("SELECT current_setting('application_name') AS name, current_schema() AS schema, current_setting('statement_timeout') AS timeout"), [
            { name: "taskrt-options", schema: SCHEMA, timeout: "300ms" },
          ]);
          await assert.rejects(db.query("SELECT pg_sleep(2)"), { code: "E_SQL", message: "sql failed on app:db: canceling statement due to statement timeout" });
        },
        { connection: { applicationName: "taskrt-options", statementTimeoutMs: 300 } },
      );
    });
  });

  describe("transactions", () => {
    test("statements sent through the database from inside a transaction join it and roll back with it", async () => {
      await withPostgres(async (db) => {
        await db.execute("DROP TABLE IF EXISTS pg_join; CREATE TABLE pg_join (id INTEGER PRIMARY KEY)");
        await assert.rejects(
          db.transaction(async () => {
            await db.execute("INSERT INTO pg_join VALUES (?)", [1]);
            assert.deepEqual(await db.query("SELECT id FROM pg_join"), [{ id: 1 }]);
            throw new Error("undo");
          }),
          /undo/,
        );
        assert.deepEqual(await db.query("SELECT id FROM pg_join"), []);
        await db.execute("DROP TABLE pg_join");
      });
    });

    test("a transaction whose failed statement was caught is rolled back and reported, not committed", async () => {
      await withPostgres(async (db) => {
        await db.execute("DROP TABLE IF EXISTS pg_aborted; CREATE TABLE pg_aborted (id INTEGER PRIMARY KEY)");
        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.execute("INSERT INTO pg_aborted VALUES (1)");
            await tx.execute("INSERT INTO pg_aborted VALUES (1)").catch(() => undefined);
            return "carried on";
          }),
          {
            code: "E_SQL",
            message: "sql failed on app:db: the transaction was rolled back: a statement in it failed and PostgreSQL refuses to commit after that",
          },
        );
        assert.deepEqual(await db.query("SELECT id FROM pg_aborted"), []);
        await db.execute("DROP TABLE pg_aborted");
      });
    });

    test("a failed statement inside a nested transaction rolls back only that savepoint", async () => {
      await withPostgres(async (db) => {
        await db.execute("DROP TABLE IF EXISTS pg_saved; CREATE TABLE pg_saved (id INTEGER PRIMARY KEY)");
        await db.transaction(async (tx) => {
          await tx.execute("INSERT INTO pg_saved VALUES (1)");
          await assert.rejects(tx.transaction(async (inner) => inner.execute("INSERT INTO pg_saved VALUES (1)")), { code: "E_SQL_CONSTRAINT" });
          await tx.execute("INSERT INTO pg_saved VALUES (2)");
        });
        assert.deepEqual(await db.query("SELECT id FROM pg_saved ORDER BY id"), [{ id: 1 }, { id: 2 }]);
        await db.execute("DROP TABLE pg_saved");
      });
    });

    test("a COMMIT sent by hand ends the transaction; later statements in it are refused", async () => {
      await withPostgres(async (db) => {
        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.execute("COMMIT");
            await tx.query("SELECT 1");
          }),
          { code: "E_SQL", message: "sql failed on app:db: the transaction was ended inside PostgreSQL by a COMMIT or ROLLBACK statement" },
        );
      });
    });

    test("statements started together inside a transaction run one by one on its connection, without pg's queueing warning", async () => {
      const warnings: string[] = [];
      const onWarning = (warning: Error): void => void warnings.push(warning.message);
      process.on("warning", onWarning);
      try {
        await withPostgres(async (db) => {
          await db.execute("DROP TABLE IF EXISTS pg_burst; CREATE TABLE pg_burst (id INTEGER PRIMARY KEY)");
          await db.transaction(async (tx) => {
            await Promise.all(Array.from({ length: 20 }, (_, index) => tx.execute("INSERT INTO pg_burst VALUES (?)", [index])));
          });
          assert.deepEqual(await db.query("SELECT COUNT(*) AS n FROM pg_burst"), [{ n: 20 }]);
          await db.execute("DROP TABLE pg_burst");
        });
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(warnings, []);
      } finally {
        process.off("warning", onWarning);
      }
    });

    test("close cuts off a transaction still running after closeTimeoutMs; PostgreSQL rolls it back", async () => {
      const { logger, lines } = capturingLogger();
      const db = makePostgres({ closeTimeoutMs: 100, logger });
      await db.open();
      await db.execute("DROP TABLE IF EXISTS pg_cut; CREATE TABLE pg_cut (id INTEGER PRIMARY KEY)");
      const started = pending();
      const finish = pending();
      const transaction = db.transaction(async (tx) => {
        await tx.execute("INSERT INTO pg_cut VALUES (1)");
        started.resolve();
        await finish.promise;
        await tx.execute("INSERT INTO pg_cut VALUES (2)");
      });
      await started.promise;
      await db.close();
      finish.resolve();
      await assert.rejects(transaction, (error: TaskrtError) => {
        assert.equal(error.code, "E_DB_UNAVAILABLE");
        assert.ok(error.message.startsWith(`lost the connection to postgres app:db at ${db.target}: `), error.message);
        return true;
      });
      assert.deepEqual(
        lines.filter((line) => line.level === "warn").map((line) => line.message),
        ["closing with statements still running; their connections are cut and PostgreSQL rolls back open transactions"],
      );
      await db.open();
      try {
        assert.deepEqual(await db.query("SELECT id FROM pg_cut"), []);
        await db.execute("DROP TABLE pg_cut");
      } finally {
        await db.close();
      }
    });
  });

  describe("connecting", () => {
    test("open fails with E_DB_UNAVAILABLE when nothing listens, naming entry and target", async () => {
      const port = await closedPort();
      const db = makePostgres({ connection: { port } });
      await assert.rejects(db.open(), {
        code: "E_DB_UNAVAILABLE",
        message: `cannot connect to postgres app:db at 127.0.0.1:${port}/test: connect ECONNREFUSED 127.0.0.1:${port}`,
      });
      assert.equal(db.state, "CLOSED");
      await assert.rejects(db.query("SELECT 1"), { code: "E_DB_UNAVAILABLE", message: "database app:db is not open" });
    });

    test("open gives up after connect_timeout when the server accepts but never answers", async () => {
      const silent = await tcpServer(() => undefined);
      try {
        const db = makePostgres({ connection: { port: silent.port, connectTimeoutMs: 200 } });
        await assert.rejects(db.open(), {
          code: "E_DB_UNAVAILABLE",
          message: `cannot connect to postgres app:db at 127.0.0.1:${silent.port}/test: no answer within 200ms (options.connect_timeout)`,
        });
      } finally {
        await silent.close();
      }
    });

    test("a refused password fails open with the server's reason, and the password appears nowhere in the error", async () => {
      const server = await refusingServer();
      const password = "s3cret-Passw0rd";
      try {
        const db = makePostgres({ connection: { port: server.port, user: "app", password } });
        const error = await db.open().then(
          () => assert.fail("open should fail"),
          (failure: unknown) => failure as TaskrtError,
        );
        assert.equal(error.code, "E_DB_UNAVAILABLE");
        assert.equal(error.message, `cannot connect to postgres app:db at 127.0.0.1:${server.port}/test: password authentication failed for user "app"`);
        assert.deepEqual(server.passwords, [password], "the password did reach the server");
        assert.ok(!inspect(error, { depth: 10, showHidden: true }).includes(password));
        assert.ok(!JSON.stringify({ ...error, message: error.message, hint: error.hint }).includes(password));
      } finally {
        await server.close();
      }
    });

    test("a database that does not exist fails open with PostgreSQL's reason", async () => {
      const db = makePostgres({ connection: { database: "taskrt_no_such_database" } });
      await assert.rejects(db.open(), {
        code: "E_DB_UNAVAILABLE",
        message: 'cannot connect to postgres app:db at 127.0.0.1:5432/taskrt_no_such_database: database "taskrt_no_such_database" does not exist',
      });
    });

    test("the connection settings are read at every open", async () => {
      let opens = 0;
      const settings = connection();
      const db = new PostgresDatabase({
        id: "app:db",
        connection: () => ({ ...settings, applicationName: `taskrt-open-${++opens}` }),
        pool: { maxOpen: 1, maxIdle: 1, maxLifetimeMs: 0 },
        closeTimeoutMs: 1000,
      });
      for (const expected of ["taskrt-open-1", "taskrt-open-2"]) {
        await db.open();
        try {
          assert.deepEqual(await db.query("SELECT current_setting('application_name') AS name"), [{ name: expected }]);
        } finally {
          await db.close();
        }
      }
    });
  });

  describe("outages and the pool", () => {
    test("idle connections ended by the server are replaced: the next statement works", async () => {
      const { logger, next } = capturingLogger();
      const settings = connection();
      await withPostgres(
        async (db) => {
          await db.transaction(async () => {
            await db.runOutsideTransaction(() => db.query("SELECT 1"));
          });
          assert.equal(db.poolStats?.idle, 2);
          assert.equal(await terminateBackends(settings.applicationName!), 2);
          await next((line) => line.message.startsWith("an idle postgres connection was lost"), 2);
          assert.equal(db.poolStats?.total, 0);
          assert.deepEqual(await db.query("SELECT 1 AS one"), [{ one: 1 }]);
        },
        { connection: settings, logger },
      );
    });

    test("a transaction whose connection is ended fails with E_DB_UNAVAILABLE; the pool carries on", async () => {
      const settings = connection();
      await withPostgres(
        async (db) => {
          await assert.rejects(
            db.transaction(async (tx) => {
              await tx.query("SELECT 1");
              await terminateBackends(settings.applicationName!);
              await tx.query("SELECT 2");
            }),
            (error: TaskrtError) => {
              assert.equal(error.code, "E_DB_UNAVAILABLE");
              assert.equal(error.message, `lost the connection to postgres app:db at ${db.target}: terminating connection due to administrator command`);
              return true;
            },
          );
          assert.deepEqual(await db.query("SELECT 3 AS n"), [{ n: 3 }]);
        },
        { connection: settings },
      );
    });

    test("while the server is unreachable statements fail fast with E_DB_UNAVAILABLE, and work again once it is back", async () => {
      const proxy = await outageProxy();
      const { logger, next } = capturingLogger();
      try {
        await withPostgres(
          async (db) => {
            assert.deepEqual(await db.query("SELECT 1 AS one"), [{ one: 1 }]);
            proxy.down();
            await next((line) => line.message.startsWith("an idle postgres connection was lost"));
            await assert.rejects(db.query("SELECT 1 AS one"), (error: TaskrtError) => {
              assert.equal(error.code, "E_DB_UNAVAILABLE");
              // How a cut connection reads depends on when the socket noticed; each says the same.
              const reasons = "Connection terminated unexpectedly|read ECONNRESET|write EPIPE";
              assert.match(error.message, new RegExp(`^cannot connect to postgres app:db at 127\\.0\\.0\\.1:${proxy.port}/test: (?:${reasons})$`));
              return true;
            });
            proxy.up();
            assert.deepEqual(await db.query("SELECT 1 AS one"), [{ one: 1 }]);
          },
          { connection: { port: proxy.port, connectTimeoutMs: 1000 }, logger },
        );
      } finally {
        await proxy.close();
      }
    });

    test("when every pooled connection stays busy past connect_timeout, a statement fails with E_DB_UNAVAILABLE", async () => {
      await withPostgres(
        async (db) => {
          const started = pending();
          const finish = pending();
          const holder = db.transaction(async () => {
            started.resolve();
            await finish.promise;
          });
          await started.promise;
          await assert.rejects(db.query("SELECT 1"), {
            code: "E_DB_UNAVAILABLE",
            message: `cannot connect to postgres app:db at ${db.target}: no pooled connection became free within 200ms: all 1 (pool.max_open) are busy`,
          });
          finish.resolve();
          await holder;
        },
        { connection: { connectTimeoutMs: 200 }, pool: { maxOpen: 1, maxIdle: 1, maxLifetimeMs: 0 } },
      );
    });

    test("max_idle caps the idle connections kept; others close when released", async () => {
      await withPostgres(
        async (db) => {
          const started = Array.from({ length: 3 }, () => pending());
          const finish = pending();
          const holders = started.map((step) =>
            db.transaction(async () => {
              step.resolve();
              await finish.promise;
            }),
          );
          await Promise.all(started.map((step) => step.promise));
          assert.equal(db.poolStats?.total, 3);
          finish.resolve();
          await Promise.all(holders);
          assert.deepEqual(db.poolStats, { total: 1, idle: 1, waiting: 0 });
        },
        { pool: { maxOpen: 3, maxIdle: 1, maxLifetimeMs: 0 } },
      );
    });
  });

  describe("with the sql module and builder", () => {
    function context(db: PostgresDatabase): CallContext {
      return {
        entryId: "app:handler",
        modules: new Set(["sql"]),
        services: {
          database: (id) => {
            assert.equal(id, "app:db");
            return db;
          },
          queue: () => {
            throw new Error("no queues here");
          },
        },
        logger: createLogger({ sink: { write() {} } }),
      };
    }

    test("the app's migration and its queries run unchanged: ? placeholders, builder, transactions", async () => {
      await withPostgres(async (db) => {
        await runInContext(context(db), async () => {
          const handle = await sql.get("app:db");
          try {
            assert.equal(handle.type(), sql.type.POSTGRES);
            await handle.execute("DROP TABLE IF EXISTS tasks");
            await handle.execute(`CREATE TABLE IF NOT EXISTS tasks (
               id TEXT PRIMARY KEY,
               action TEXT NOT NULL,
               payload TEXT NOT NULL,
               status TEXT NOT NULL DEFAULT 'queued',
               result TEXT,
               error TEXT,
               attempts INTEGER NOT NULL DEFAULT 0,
               created_at BIGINT NOT NULL,
               updated_at BIGINT NOT NULL,
               processed_at BIGINT
             )`);
            await handle.execute("CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (status, id)");
            const now = Date.now();
            await handle.transaction(async (tx) => {
              for (const [id, status] of [["t1", "done"], ["t2", "queued"], ["t3", "done"]]) {
                await sql.builder
                  .insert("tasks")
                  .setMap({ id, action: "echo", payload: JSON.stringify({ id }), status, created_at: now, updated_at: now })
                  .runWith(tx)
                  .exec();
              }
            });
            const done = await sql.builder.select("id", "status", "created_at").from("tasks").where({ status: "done" }).orderBy("id DESC").limit(10).runWith(handle).query();
            assert.deepEqual(done, [
              { id: "t3", status: "done", created_at: now },
              { id: "t1", status: "done", created_at: now },
            ]);
            const updated = await sql.builder.update("tasks").set("attempts", 1).where("id IN (?, ?)", "t1", "t2").runWith(handle).exec();
            assert.deepEqual(updated, { lastInsertId: null, rowsAffected: 2 });
            const counted = await sql.builder.select("COUNT(*) AS n").from("tasks").where({ attempts: 1 }).offset(0).runWith(handle).query();
            assert.deepEqual(counted, [{ n: 2 }]);
            await handle.execute("DROP TABLE tasks");
          } finally {
            handle.release();
          }
        });
      });
    });
  });
});
