/**
 * @module kinds/db-sql-postgres — `db.sql.postgres`: a PostgreSQL connection pool, connected on
 * start (environment variables read then) and drained on stop; the component is the `SqlDatabase`
 * that `sql.get` and `services.database` return.
 */
import { PROBLEM_CODES, type Problem } from "../errors.ts";
import { readLifecycle } from "../lifecycle.ts";
import { PostgresDatabase } from "../drivers/sql/postgres.ts";
import {
  describeConfiguredTarget,
  missingFields,
  readPostgresPool,
  resolvePostgresConnection,
  type PostgresEntryData,
} from "../drivers/sql/postgres-config.ts";
import { defineKind, type Component } from "./kind.ts";

/** The database as a supervised service: start connects (failing on a wrong password or a server that is down), stop drains the pool. */
export class PostgresComponent extends PostgresDatabase implements Component {
  readonly #configuredTarget: string;

  constructor(options: ConstructorParameters<typeof PostgresDatabase>[0] & { configuredTarget: string }) {
    super(options);
    this.#configuredTarget = options.configuredTarget;
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
}

export default defineKind({
  kind: "db.sql.postgres",
  summary: "PostgreSQL through a pg connection pool; credentials from the environment (`${env:NAME}` or `<field>_env`).",
  references: [],
  service: true,
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
