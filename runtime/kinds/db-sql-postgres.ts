/**
 * @module kinds/db-sql-postgres — `db.sql.postgres`: a PostgreSQL connection pool, connected on
 * start (environment variables read then) and drained on stop; the component is the `SqlDatabase`
 * that `sql.get` and `services.database` return. The driver (and pg with it) is imported on first
 * use, so registries without PostgreSQL never load it.
 */
import { PROBLEM_CODES, type Problem } from "../errors.ts";
import { readLifecycle } from "../lifecycle.ts";
import type { ExecResult, SqlDatabase, SqlExecutor, SqlRow } from "../drivers/sql/driver.ts";
import type { PostgresDatabase, PostgresOptions, PostgresPoolStats, PostgresState, PostgresTransaction } from "../drivers/sql/postgres.ts";
import {
  CONNECTION_FIELDS,
  describeConfiguredTarget,
  missingFields,
  readPostgresPool,
  resolvePostgresConnection,
  type PostgresEntryData,
} from "../drivers/sql/postgres-config.ts";
import type { Component } from "../contracts/component.ts";
import { defineKind } from "../contracts/kind-definition.ts";

let driverModule: Promise<typeof import("../drivers/sql/postgres.ts")> | undefined;

/** The driver module, imported once; a failed import is tried again next time rather than remembered. */
function loadDriver(): Promise<typeof import("../drivers/sql/postgres.ts")> {
  driverModule ??= import("../drivers/sql/postgres.ts").catch((error: unknown) => {
    driverModule = undefined;
    throw error;
  });
  return driverModule;
}

/**
 * The database as a supervised service: start connects (failing on a wrong password or a server
 * that is down), stop drains the pool. Every call goes to the driver's `PostgresDatabase`, built
 * when the driver is first needed (normally by start).
 */
export class PostgresComponent implements SqlDatabase, Component {
  readonly id: string;
  readonly dialect = "postgres" as const;
  readonly #options: PostgresOptions;
  readonly #configuredTarget: string;
  #database: PostgresDatabase | undefined;
  #loading: Promise<PostgresDatabase> | undefined;

  constructor(options: PostgresOptions & { configuredTarget: string }) {
    const { configuredTarget, ...driverOptions } = options;
    this.id = options.id;
    this.#options = driverOptions;
    this.#configuredTarget = configuredTarget;
  }

  get state(): PostgresState {
    return this.#database?.state ?? "CLOSED";
  }

  /** `host:port/database` of the last open; undefined before the first. */
  get target(): string | undefined {
    return this.#database?.target;
  }

  get maxOpen(): number {
    return this.#options.pool.maxOpen;
  }

  get poolStats(): PostgresPoolStats | undefined {
    return this.#database?.poolStats;
  }

  start(): Promise<void> {
    return this.open();
  }

  stop(): Promise<void> {
    return this.close();
  }

  /** `postgres 127.0.0.1:5432/test (pool 10)`: where, never who or with which password. */
  describe(): string {
    const target = this.target ?? this.#configuredTarget;
    return this.state === "OPEN" ? `postgres ${target} (pool ${this.maxOpen})` : `postgres ${target} (${this.state.toLowerCase()})`;
  }

  async open(): Promise<void> {
    return (await this.#driver()).open();
  }

  close(): Promise<void> {
    if (this.#database) return this.#database.close();
    return this.#loading ? this.#loading.then((database) => database.close()) : Promise.resolve();
  }

  query(sql: string, params?: readonly unknown[]): Promise<SqlRow[]> {
    if (this.#database) return this.#database.query(sql, params);
    return this.#driver().then((database) => database.query(sql, params));
  }

  execute(sql: string, params?: readonly unknown[]): Promise<ExecResult> {
    if (this.#database) return this.#database.execute(sql, params);
    return this.#driver().then((database) => database.execute(sql, params));
  }

  transaction<T>(fn: (tx: PostgresTransaction) => Promise<T>): Promise<T> {
    if (this.#database) return this.#database.transaction(fn);
    return this.#driver().then((database) => database.transaction(fn));
  }

  /** Before the driver is loaded no transaction can be open. */
  currentTransaction(): SqlExecutor | undefined {
    return this.#database?.currentTransaction();
  }

  runOutsideTransaction<T>(fn: () => T): T {
    return this.#database ? this.#database.runOutsideTransaction(fn) : fn();
  }

  /** A connection outside the pool (LISTEN, session locks); see PostgresDatabase.connectDedicated. */
  async connectDedicated(): Promise<import("pg").Client> {
    return (await this.#driver()).connectDedicated();
  }

  #driver(): Promise<PostgresDatabase> {
    if (this.#database) return Promise.resolve(this.#database);
    this.#loading ??= loadDriver().then(
      ({ PostgresDatabase }) => (this.#database = new PostgresDatabase(this.#options)),
      (error: unknown) => {
        this.#loading = undefined;
        throw error;
      },
    );
    return this.#loading;
  }
}

export default defineKind({
  kind: "db.sql.postgres",
  summary: "PostgreSQL through a pg connection pool; credentials from the environment (`${env:NAME}` or `<field>_env`).",
  references: [],
  service: true,
  placeholdersAtStart: CONNECTION_FIELDS.map((field) => [field]),
  check(entry): Problem[] {
    return missingFields(entry.data as Partial<PostgresEntryData>).map((field) => ({
      code: PROBLEM_CODES.SCHEMA,
      severity: "error",
      entryId: entry.id,
      field,
      location: entry.locate([]),
      message: `${field} is required: give ${field}, or ${field}_env naming an environment variable`,
      hint: `e.g. ${field}: "\${env:PG_${field.toUpperCase()}}"`,
    }));
  },
  create(entry, context): PostgresComponent {
    const data = entry.data as unknown as PostgresEntryData;
    return new PostgresComponent({
      id: entry.id,
      // Read at each start, not here: create does no I/O, and a restart picks up a rotated secret.
      connection: () => resolvePostgresConnection(entry.id, data),
      pool: readPostgresPool(data),
      // Running work gets most of stop_timeout to finish; the last tenth ends the pool, so stop()
      // ends within the limit the supervisor holds it to instead of racing it.
      closeTimeoutMs: readLifecycle(entry).stopTimeoutMs * 0.9,
      logger: context.logger.forEntry(entry.id),
      configuredTarget: describeConfiguredTarget(data),
    });
  },
});
