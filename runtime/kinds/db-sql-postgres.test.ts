import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import net from "node:net";
import kind, { PostgresComponent } from "./db-sql-postgres.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import type { Entry } from "../registry/entry.ts";
import { projectSchemas } from "../registry/schemas.ts";
import { createLogger } from "../logger.ts";
import { TaskrtError, type Problem } from "../errors.ts";
import { resolvePostgresConnection, type PostgresEntryData } from "../drivers/sql/postgres-config.ts";
import { expandEnvironment } from "../environment-text.ts";
import { LOCAL_POSTGRES, serviceSkip } from "../../test/support/services.ts";
import { checkRegistry, startRuntime } from "../runtime.ts";
import type { CallableComponent } from "../handlers/handler.ts";
import pg from "pg";

const skip = await serviceSkip("postgres", LOCAL_POSTGRES.host, LOCAL_POSTGRES.port);
const temporaryRoot = fs.mkdtempSync(path.join(os.tmpdir(), "taskrt-pg-kind-"));
after(() => fs.rmSync(temporaryRoot, { recursive: true, force: true }));

/** An entry as the validator leaves it: the schema's defaults filled in. */
function validatedEntry(data: Record<string, unknown>): { entry: Entry; errors: string[] } {
  const candidate: Record<string, unknown> = { ...structuredClone(data), name: "db", kind: "db.sql.postgres", meta: {} };
  const validate = projectSchemas().validator("db.sql.postgres")!;
  const valid = validate(candidate);
  const { name: _name, kind: _kind, meta: _meta, ...filled } = candidate;
  const location = { file: "/test/_index.yaml", line: 1, column: 1 };
  const entry: Entry = { id: "app:db", namespace: "app", name: "db", kind: "db.sql.postgres", meta: {}, data: filled, file: location.file, location, locate: () => location };
  return { entry, errors: valid ? [] : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`) };
}

const LOCAL = { host: "127.0.0.1", database: "test", username: "postgres" };

function resolve(data: Record<string, unknown>, environment: Record<string, string> = {}) {
  const { entry, errors } = validatedEntry(data);
  assert.deepEqual(errors, []);
  return resolvePostgresConnection(entry.id, entry.data as unknown as PostgresEntryData, environment);
}

function configFailure(message: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof TaskrtError, String(error));
    assert.equal(error.code, "E_DB_CONFIG");
    assert.equal(error.message, message);
    assert.equal(error.entryId, "app:db");
    return true;
  };
}

function buildContext(): BuildContext {
  return {
    registry: { root: "/test", entries: [], byId: new Map() },
    logger: createLogger({ sink: { write() {} } }),
    component: () => {
      throw new Error("db.sql.postgres references nothing");
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

describe("db.sql.postgres schema and check", () => {
  test("the schema fills port, pool, options and lifecycle defaults", () => {
    const { entry, errors } = validatedEntry(LOCAL);
    assert.deepEqual(errors, []);
    assert.equal(entry.data.port, 5432);
    assert.deepEqual(entry.data.pool, { max_open: 10, max_idle: 10, max_lifetime: "1h" });
    assert.deepEqual(entry.data.options, { application_name: "taskrt", connect_timeout: "5s" });
    assert.equal((entry.data.lifecycle as Record<string, unknown>).stop_timeout, "10s");
  });

  test("the schema accepts Wippy's fields, _env forms and a placeholder port, and refuses an unlimited pool", () => {
    assert.deepEqual(
      validatedEntry({
        host_env: "PG_HOST",
        port: "${env:PG_PORT|5432}",
        database_env: "PG_DB",
        username_env: "PG_USER",
        password_env: "PG_PASSWORD",
        pool: { max_open: 20, max_idle: 5, max_lifetime: "30m" },
        options: { sslmode: "disable", application_name: "api", statement_timeout: "30s", connect_timeout: 10, search_path: "app, public" },
      }).errors,
      [],
    );
    assert.deepEqual(validatedEntry({ ...LOCAL, pool: { max_open: 0 } }).errors, ["/pool/max_open must be >= 1"]);
    assert.deepEqual(validatedEntry({ ...LOCAL, options: { sslmode: "on" } }).errors, ["/options/sslmode must be equal to one of the allowed values"]);
    assert.ok(validatedEntry({ ...LOCAL, port: "fifty" }).errors.length > 0);
    assert.deepEqual(validatedEntry({ ...LOCAL, password_env: "not a name" }).errors, ['/password_env must match pattern "^[A-Za-z_][A-Za-z0-9_]*$"']);
  });

  test("the kind is a service referencing nothing", () => {
    assert.equal(kind.kind, "db.sql.postgres");
    assert.equal(kind.service, true);
    assert.deepEqual(kind.references, []);
  });

  test("check requires host, database and username, each given or named by its _env field", () => {
    const { entry } = validatedEntry({ password: "x" });
    const problems = kind.check!(entry, { root: "/test", entries: [entry], byId: new Map([[entry.id, entry]]) }) as Problem[];
    assert.deepEqual(
      problems.map((problem) => [problem.code, problem.field, problem.message]),
      [
        ["E_SCHEMA", "host", "host is required: give host, or host_env naming an environment variable"],
        ["E_SCHEMA", "database", "database is required: give database, or database_env naming an environment variable"],
        ["E_SCHEMA", "username", "username is required: give username, or username_env naming an environment variable"],
      ],
    );
    const complete = validatedEntry({ host_env: "H", database: "d", username_env: "U" }).entry;
    assert.deepEqual(kind.check!(complete, { root: "/test", entries: [], byId: new Map() }), []);
  });
});

describe("db.sql.postgres settings from the environment", () => {
  test("plain fields and defaults become the connection settings", () => {
    assert.deepEqual(resolve({ ...LOCAL, password: "pw", options: { statement_timeout: "1m", lock_timeout: 250, search_path: "app" } }), {
      host: "127.0.0.1",
      port: 5432,
      database: "test",
      user: "postgres",
      password: "pw",
      ssl: false,
      applicationName: "taskrt",
      statementTimeoutMs: 60_000,
      lockTimeoutMs: 250,
      idleInTransactionTimeoutMs: undefined,
      searchPath: "app",
      connectTimeoutMs: 5000,
    });
  });

  test("${env:NAME} and ${env:NAME|default} read the environment; $${ stays a literal ${", () => {
    const settings = resolve(
      { host: "${env:PG_HOST|localhost}", port: "${env:PG_PORT}", database: "db_${env:STAGE}", username: "${env:PG_USER|app}", password: "$${env:NOT_READ}-${env:PG_PASSWORD}" },
      { PG_PORT: "6543", STAGE: "prod", PG_PASSWORD: "pw", PG_USER: "" },
    );
    assert.deepEqual([settings.host, settings.port, settings.database, settings.user, settings.password], ["localhost", 6543, "db_prod", "app", "${env:NOT_READ}-pw"]);
    assert.equal(expandEnvironment("no placeholders ${HOME}", {}, () => assert.fail("nothing to read")), "no placeholders ${HOME}");
  });

  test("an _env field wins when its variable is set, and falls back to the plain field otherwise", () => {
    const data = { ...LOCAL, host_env: "PG_HOST", port_env: "PG_PORT", password_env: "PG_PASSWORD", password: "fallback" };
    assert.deepEqual(
      (({ host, port, password }) => ({ host, port, password }))(resolve(data, { PG_HOST: "db.internal", PG_PORT: "6000", PG_PASSWORD: "from-env" })),
      { host: "db.internal", port: 6000, password: "from-env" },
    );
    assert.deepEqual((({ host, port, password }) => ({ host, port, password }))(resolve(data, { PG_HOST: "" })), { host: "127.0.0.1", port: 5432, password: "fallback" });
    assert.equal(resolve({ ...LOCAL }).password, undefined, "no password: trust authentication");
  });

  test("a variable that is not set fails the start with E_DB_CONFIG naming field and variable, never a value", () => {
    assert.throws(
      () => resolve({ ...LOCAL, host: undefined, host_env: "PG_HOST" }),
      configFailure("postgres app:db: host_env names PG_HOST, which is not set, and host is not given"),
    );
    assert.throws(() => resolve({ ...LOCAL, password: "${env:PG_PASSWORD}" }), configFailure("postgres app:db: password uses ${env:PG_PASSWORD}, but PG_PASSWORD is not set"));
    assert.throws(() => resolve({ ...LOCAL, port: "${env:PG_PORT}" }, { PG_PORT: "fifty" }), configFailure('postgres app:db: port must be a number from 1 to 65535, got "fifty"'));
    assert.throws(() => resolve({ ...LOCAL, username: "${env:PG_USER}" }, { PG_USER: "" }), configFailure("postgres app:db: username is empty"));
  });

  test("sslmode maps to pg's TLS settings; certificate files are read at start", () => {
    const ca = path.join(temporaryRoot, "ca.pem");
    fs.writeFileSync(ca, "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n");
    const ssl = (options: Record<string, unknown>) => resolve({ ...LOCAL, options }).ssl;
    assert.equal(ssl({}), false);
    assert.equal(ssl({ sslmode: "disable" }), false);
    assert.equal(ssl({ sslmode: "prefer" }), false);
    assert.deepEqual(ssl({ sslmode: "require" }), { rejectUnauthorized: false });
    assert.deepEqual(ssl({ sslmode: "verify-full", sslrootcert: ca }), { ca: fs.readFileSync(ca, "utf8"), rejectUnauthorized: true });
    const verifyCa = ssl({ sslmode: "require", sslrootcert: ca }) as { rejectUnauthorized: boolean; checkServerIdentity: () => unknown };
    assert.equal(verifyCa.rejectUnauthorized, true);
    assert.equal(verifyCa.checkServerIdentity(), undefined, "verify-ca checks the chain, not the host name");
    const missing = path.join(temporaryRoot, "missing.pem");
    assert.throws(() => ssl({ sslmode: "verify-full", sslrootcert: missing }), (error: TaskrtError) => {
      assert.equal(error.code, "E_DB_CONFIG");
      assert.ok(error.message.startsWith(`postgres app:db: options.sslrootcert: cannot read ${missing}: ENOENT`), error.message);
      return true;
    });
  });

  test("connect_timeout: a bare number is seconds, as in libpq; a duration says its unit", () => {
    const timeout = (value: unknown) => resolve({ ...LOCAL, options: { connect_timeout: value } }).connectTimeoutMs;
    assert.equal(timeout(10), 10_000);
    assert.equal(timeout("3"), 3000);
    assert.equal(timeout("750ms"), 750);
    assert.equal(timeout(0), 0);
  });
});

describe("db.sql.postgres component", () => {
  test("create does no I/O and describes the configured target, never the password", () => {
    const quiet = kind.create(validatedEntry({ host: "db.internal", port: 6543, database: "tasks", username: "app", password: "hunter2" }).entry, buildContext());
    assert.ok(quiet instanceof PostgresComponent);
    assert.equal(quiet.describe(), "postgres db.internal:6543/tasks (closed)");
    const fromEnv = kind.create(validatedEntry({ host_env: "PG_HOST", database: "${env:PG_DB}", username: "app" }).entry, buildContext()) as PostgresComponent;
    assert.equal(fromEnv.describe(), "postgres $PG_HOST:5432/${env:PG_DB} (closed)");
  });

  test("a start that cannot connect fails with E_DB_UNAVAILABLE and leaves the component closed", async () => {
    const server = net.createServer();
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((done) => server.close(() => done()));
    const component = kind.create(validatedEntry({ ...LOCAL, port, password: "hunter2" }).entry, buildContext()) as PostgresComponent;
    await assert.rejects(component.start(), (error: TaskrtError) => {
      assert.equal(error.code, "E_DB_UNAVAILABLE");
      assert.equal(error.message, `cannot connect to postgres app:db at 127.0.0.1:${port}/test: connect ECONNREFUSED 127.0.0.1:${port}`);
      assert.ok(!error.message.includes("hunter2") && !String(error.hint).includes("hunter2"));
      return true;
    });
    assert.equal(component.describe(), `postgres 127.0.0.1:${port}/test (closed)`);
  });

  test("a start whose variable is missing fails with E_DB_CONFIG before connecting", async () => {
    const component = kind.create(validatedEntry({ ...LOCAL, password: "${env:TASKRT_TEST_UNSET_PASSWORD}" }).entry, buildContext()) as PostgresComponent;
    await assert.rejects(component.start(), configFailure("postgres app:db: password uses ${env:TASKRT_TEST_UNSET_PASSWORD}, but TASKRT_TEST_UNSET_PASSWORD is not set"));
    assert.equal(component.state, "CLOSED");
  });

  test("start connects to the local server; describe shows target and pool size; stop closes", { skip }, async () => {
    const component = kind.create(validatedEntry({ ...LOCAL, username: LOCAL_POSTGRES.user, pool: { max_open: 3 } }).entry, buildContext()) as PostgresComponent;
    await component.start();
    try {
      assert.equal(component.describe(), "postgres 127.0.0.1:5432/test (pool 3)");
      assert.equal(component.dialect, "postgres");
      assert.deepEqual(await component.query("SELECT current_setting('application_name') AS name, ? AS echo", ["hi"]), [{ name: "taskrt", echo: "hi" }]);
    } finally {
      await component.stop();
    }
    assert.equal(component.describe(), "postgres 127.0.0.1:5432/test (closed)");
    await assert.rejects(component.query("SELECT 1"), { code: "E_DB_UNAVAILABLE", message: "database app:db is not open" });
  });
});

describe("db.sql.postgres in a registry", () => {
  const schema = `taskrt_pg_kind_${process.pid}`;
  const directory = path.join(temporaryRoot, "registry");
  const runtimeIndex = new URL("../index.ts", import.meta.url).href;

  function writeRegistry(database: Record<string, unknown>): string {
    fs.mkdirSync(directory, { recursive: true });
    fs.writeFileSync(
      path.join(directory, "count.ts"),
      [
        `import { sql } from ${JSON.stringify(runtimeIndex)};`,
        "export async function handler(name: string) {",
        '  const db = await sql.get("app:db");',
        "  try {",
        '    await db.execute("CREATE TABLE IF NOT EXISTS items (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL)");',
        '    const { lastInsertId } = await sql.builder.insert("items").setMap({ name }).returning("id").runWith(db).exec();',
        '    const [{ n }] = await db.query("SELECT COUNT(*) AS n FROM items WHERE name = ?", [name]);',
        "    return { type: db.type(), lastInsertId, n };",
        "  } finally {",
        "    db.release();",
        "  }",
        "}",
        "",
      ].join("\n"),
    );
    const entry = Object.entries({ name: "db", kind: "db.sql.postgres", ...database })
      .map(([key, value], index) => `${index === 0 ? "  - " : "    "}${key}: ${JSON.stringify(value)}`)
      .join("\n");
    const file = path.join(directory, "_index.yaml");
    fs.writeFileSync(
      file,
      [
        'version: "1.0"',
        "namespace: app",
        "entries:",
        entry,
        "  - name: count",
        "    kind: function.ts",
        "    source: file://count.ts",
        "    method: handler",
        "    modules: [sql]",
        "",
      ].join("\n"),
    );
    return file;
  }

  test("an unknown option is a warning naming it; a missing username an error", async () => {
    const file = writeRegistry({ host: "127.0.0.1", database: "test", options: { sslmod: "disable" } });
    const { problems } = await checkRegistry({ path: file, kinds: [kind] });
    assert.deepEqual(
      problems.map((problem) => [problem.severity, problem.message]),
      [
        ["error", "username is required: give username, or username_env naming an environment variable"],
        ["warning", 'unknown field "options.sslmod": options of db.sql.postgres has no such field and ignores it'],
      ],
    );
  });

  test("a handler reaches the database through sql.get, with credentials from the environment", { skip }, async () => {
    const admin = new pg.Client({ host: LOCAL_POSTGRES.host, port: LOCAL_POSTGRES.port, user: LOCAL_POSTGRES.user, database: LOCAL_POSTGRES.database });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
    process.env.TASKRT_TEST_PG_USER = LOCAL_POSTGRES.user;
    const file = writeRegistry({
      host: "${env:TASKRT_TEST_PG_HOST|127.0.0.1}",
      port: LOCAL_POSTGRES.port,
      database: LOCAL_POSTGRES.database,
      username_env: "TASKRT_TEST_PG_USER",
      options: { search_path: schema },
      lifecycle: { auto_start: true },
    });
    const runtime = await startRuntime({ path: file, kinds: [kind], logger: createLogger({ sink: { write() {} } }) });
    try {
      assert.equal(runtime.component<PostgresComponent>("app:db").describe(), "postgres 127.0.0.1:5432/test (pool 10)");
      const count = runtime.component<CallableComponent>("app:count").callable();
      assert.deepEqual(await count.call(["a"]), { value: { type: "postgres", lastInsertId: 1, n: 1 } });
      assert.deepEqual(await count.call(["a"]), { value: { type: "postgres", lastInsertId: 2, n: 2 } });
    } finally {
      await runtime.stop();
      delete process.env.TASKRT_TEST_PG_USER;
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });
});
