/**
 * @module drivers/sql/postgres-config — turns a validated `db.sql.postgres` entry into connection
 * settings at start: `<field>_env` variables, `${env:NAME|default}` placeholders, the pool limits
 * and the libpq-style `options` (sslmode, timeouts, …). Values never appear in its errors.
 */
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { TaskrtError, errorMessage } from "../../errors.ts";
import { parseDuration } from "../../duration.ts";
import { expandEnvironment, type Environment } from "../../environment-text.ts";
import type { PostgresConnection, PostgresPoolOptions } from "./postgres.ts";

export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";
type Duration = string | number;

/** `entry.data` after validation filled the schema's defaults. */
export interface PostgresEntryData {
  host?: string;
  host_env?: string;
  port: number | string;
  port_env?: string;
  database?: string;
  database_env?: string;
  username?: string;
  username_env?: string;
  password?: string;
  password_env?: string;
  pool: { max_open: number; max_idle: number; max_lifetime: Duration };
  options: {
    sslmode?: SslMode;
    sslrootcert?: string;
    sslcert?: string;
    sslkey?: string;
    application_name?: string;
    connect_timeout: Duration;
    statement_timeout?: Duration;
    lock_timeout?: Duration;
    idle_in_transaction_session_timeout?: Duration;
    search_path?: string;
  };
}

/** The connection fields that also have an `_env` form and take `${env:…}` placeholders. */
export const CONNECTION_FIELDS = ["host", "port", "database", "username", "password"] as const;
export type ConnectionField = (typeof CONNECTION_FIELDS)[number];
/** Without these (or their `_env` form) there is nothing to connect to; a missing password means trust authentication. */
export const REQUIRED_FIELDS: readonly ConnectionField[] = ["host", "database", "username"];



/** Connection settings for `data`, reading `environment` now. Throws E_DB_CONFIG naming the field. */
export function resolvePostgresConnection(id: string, data: PostgresEntryData, environment: Environment = process.env): PostgresConnection {
  const read = (field: ConnectionField): string | undefined => resolveField(id, data, field, environment);
  const required = (field: ConnectionField): string => {
    const value = read(field);
    if (value === undefined || value === "") {
      throw configError(id, `${field} is empty`, `give ${field}, or ${field}_env naming a variable that is set`);
    }
    return value;
  };
  const options = data.options;
  return {
    host: required("host"),
    port: parsePort(id, required("port")),
    database: required("database"),
    user: required("username"),
    password: read("password"),
    ssl: sslSettings(id, options),
    applicationName: options.application_name,
    statementTimeoutMs: optionalDuration(options.statement_timeout),
    lockTimeoutMs: optionalDuration(options.lock_timeout),
    idleInTransactionTimeoutMs: optionalDuration(options.idle_in_transaction_session_timeout),
    searchPath: options.search_path,
    connectTimeoutMs: connectTimeout(options.connect_timeout),
  };
}

export function readPostgresPool(data: PostgresEntryData): PostgresPoolOptions {
  return { maxOpen: data.pool.max_open, maxIdle: data.pool.max_idle, maxLifetimeMs: parseDuration(data.pool.max_lifetime) };
}

/** `host:port/database` as written (placeholders unresolved), for `describe()` before the first start. */
export function describeConfiguredTarget(data: PostgresEntryData): string {
  const written = (field: ConnectionField): string => {
    const env = data[`${field}_env`];
    const value = data[field];
    // The variable wins when set, so it is what the target most likely is.
    return env !== undefined ? `$${env}` : value !== undefined ? String(value) : "?";
  };
  return `${written("host")}:${written("port")}/${written("database")}`;
}

/** Fields neither given nor named by an `_env` field: what `check` reports before anything starts. */
export function missingFields(data: Partial<PostgresEntryData>): ConnectionField[] {
  return REQUIRED_FIELDS.filter((field) => data[field] === undefined && data[`${field}_env`] === undefined);
}

function resolveField(id: string, data: PostgresEntryData, field: ConnectionField, environment: Environment): string | undefined {
  const variable = data[`${field}_env`];
  if (variable !== undefined) {
    const value = environment[variable];
    if (value !== undefined && value !== "") return value;
  }
  const written = data[field];
  if (written === undefined) {
    if (variable !== undefined && field !== "password") {
      throw configError(id, `${field}_env names ${variable}, which is not set, and ${field} is not given`, `set ${variable}, or give ${field}`);
    }
    return undefined;
  }
  if (typeof written === "number") return String(written);
  return expandEnvironment(written, environment, (name) => {
    throw configError(id, `${field} uses \${env:${name}}, but ${name} is not set`, `set ${name}, or give a default: \${env:${name}|value}`);
  });
}

function parsePort(id: string, text: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw configError(id, `port must be a number from 1 to 65535, got ${JSON.stringify(text)}`, "fix port, port_env or the variable they read");
  }
  return port;
}

/** libpq's sslmode, as far as pg can follow it: pg cannot try TLS and fall back, so allow/prefer mean no TLS. */
function sslSettings(id: string, options: PostgresEntryData["options"]): false | ConnectionOptions {
  const mode = options.sslmode;
  if (mode === undefined || mode === "disable" || mode === "allow" || mode === "prefer") return false;
  const settings: ConnectionOptions = {};
  if (options.sslrootcert !== undefined) settings.ca = readPem(id, "sslrootcert", options.sslrootcert);
  if (options.sslcert !== undefined) settings.cert = readPem(id, "sslcert", options.sslcert);
  if (options.sslkey !== undefined) settings.key = readPem(id, "sslkey", options.sslkey);
  // As libpq: require with a root certificate checks the chain, like verify-ca.
  const effective = mode === "require" && settings.ca !== undefined ? "verify-ca" : mode;
  switch (effective) {
    case "require":
      settings.rejectUnauthorized = false;
      return settings;
    case "verify-ca":
      settings.rejectUnauthorized = true;
      settings.checkServerIdentity = () => undefined;
      return settings;
    case "verify-full":
      settings.rejectUnauthorized = true;
      return settings;
    default: {
      const unexpected: never = effective;
      throw configError(id, `options.sslmode ${JSON.stringify(unexpected)} is not supported`, "use disable, require, verify-ca or verify-full");
    }
  }
}

function readPem(id: string, option: string, file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw configError(id, `options.${option}: cannot read ${file}: ${errorMessage(error)}`, "point it at a readable PEM file", error);
  }
}

function optionalDuration(value: Duration | undefined): number | undefined {
  return value === undefined ? undefined : parseDuration(value);
}

/** libpq's connect_timeout is whole seconds; durations ("500ms", "5s") say their unit. */
function connectTimeout(value: Duration): number {
  if (typeof value === "number" || /^\d+$/.test(value.trim())) return Number(value) * 1000;
  return parseDuration(value);
}

function configError(id: string, problem: string, fix: string, cause?: unknown): TaskrtError {
  return new TaskrtError("E_DB_CONFIG", `postgres ${id}: ${problem}`, { entryId: id, hint: fix, cause });
}
