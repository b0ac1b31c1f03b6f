/**
 * @module contracts/runtime-services — what handler modules reach at run time: the live databases
 * and queues, looked up by id. Named by the modules and the supervisor alike.
 */
import type { SqlDatabase } from "../drivers/sql/driver.ts";
import type { QueueHandle } from "../drivers/queue/driver.ts";
import type { Callable } from "../handlers/handler.ts";
import type { Registry } from "../registry/entry.ts";
import type { EnvironmentVariables, EventBus } from "./process-services.ts";

/** What handler modules reach at run time: other live entries, looked up by id and checked by kind. */
export interface RuntimeServices {
  /** A database still starting is awaited (as Wippy's `sql.get` yields until the resource is ready). */
  database(id: string): SqlDatabase | Promise<SqlDatabase>;
  queue(id: string): QueueHandle;
  /** A `function.*` or `process.*` entry, ready to call (`funcs`). Absent in hand-built services. */
  callable?(id: string): Callable;
  /** The registry the runtime runs (`registry`). Absent in hand-built services. */
  registry?(): Registry;
  /** The `env.variable` entries, read and written through their storages (`env`). */
  environment?: EnvironmentVariables;
  /** The runtime's publish/subscribe bus (`events`). */
  events?: EventBus;
}
