/**
 * @module kinds — the one table of kinds. Adding a kind is one file beside this one, one schema
 * in `schemas/`, and one line here.
 */
import type { KindDefinition } from "../contracts/kind-definition.ts";
import dbSqlSqlite from "./db-sql-sqlite.ts";
import dbSqlPostgres from "./db-sql-postgres.ts";
import queueDriverMemory from "./queue-driver-memory.ts";
import queueDriverSqlite from "./queue-driver-sqlite.ts";
import queueDriverAmqp from "./queue-driver-amqp.ts";
import queueDriverPostgres from "./queue-driver-postgres.ts";
import queueQueue from "./queue-queue.ts";
import queueConsumer from "./queue-consumer.ts";
import queueSchedule from "./queue-schedule.ts";
import httpService from "./http-service.ts";
import httpRouter from "./http-router.ts";
import httpEndpoint from "./http-endpoint.ts";
import httpOpenapi from "./http-openapi.ts";
import functionTs from "./function-ts.ts";
import processTs from "./process-ts.ts";
import functionLua from "./function-lua.ts";
import processLua from "./process-lua.ts";
import processHost from "./process-host.ts";
import processService from "./process-service.ts";
import taskrtMetrics from "./taskrt-metrics.ts";
import taskrtHealth from "./taskrt-health.ts";
import taskrtDashboard from "./taskrt-dashboard.ts";
import envVariable from "./env-variable.ts";
import envStorageMemory from "./env-storage-memory.ts";
import envStorageOs from "./env-storage-os.ts";
import envStorageFile from "./env-storage-file.ts";
import envStorageStatic from "./env-storage-static.ts";
import envStorageRouter from "./env-storage-router.ts";
import registryEntry from "./registry-entry.ts";
import nsDefinition from "./ns-definition.ts";
import terminalHost from "./terminal-host.ts";

export const BUILTIN_KINDS: readonly KindDefinition[] = [
  dbSqlSqlite,
  dbSqlPostgres,
  queueDriverMemory,
  queueDriverSqlite,
  queueDriverAmqp,
  queueDriverPostgres,
  queueQueue,
  queueConsumer,
  queueSchedule,
  httpService,
  httpRouter,
  httpEndpoint,
  httpOpenapi,
  functionTs,
  processTs,
  functionLua,
  processLua,
  processHost,
  processService,
  taskrtMetrics,
  taskrtHealth,
  taskrtDashboard,
  envVariable,
  envStorageMemory,
  envStorageOs,
  envStorageFile,
  envStorageStatic,
  envStorageRouter,
  registryEntry,
  nsDefinition,
  terminalHost,
];

/** A kinds table: the built-ins, plus any extra kinds a caller plugs in (later ones replace earlier). */
export function createKindTable(extra: readonly KindDefinition[] = []): ReadonlyMap<string, KindDefinition> {
  return new Map([...BUILTIN_KINDS, ...extra].map((definition) => [definition.kind, definition]));
}
