/**
 * @module contracts/build-context — what a kind's factory is handed when it builds a component:
 * the registry, a logger, the components already built, and (from the supervisor) a read-only
 * view of the running entries.
 */
import { TaskrtError } from "../errors.ts";
import type { Entry, Registry } from "../registry/entry.ts";
import type { Logger } from "../logger.ts";
import type { Instruments } from "../metrics/instruments.ts";
import type { Component } from "./component.ts";
import type { RuntimeServices } from "./runtime-services.ts";

export interface BuildContext {
  registry: Registry;
  logger: Logger;
  /** The component built for another entry (already created: creation follows dependency order). */
  component<T = Component>(id: string): T;
  /** Ids and components of all entries of a kind, e.g. routers attached to a server. */
  services: RuntimeServices;
  /** The supervisor, read-only, for entries that report on the others (`taskrt.health`, `taskrt.metrics`). Absent in hand-built contexts. */
  runtime?: RuntimeView;
  /** The hooks measured code calls; they do nothing until a `taskrt.metrics` entry starts. Absent in hand-built contexts. */
  instruments?: Instruments;
}

/** The lifecycle states the supervisor reports, and metrics and readiness read. */
export const SERVICE_STATE = {
  CREATED: "CREATED",
  STARTING: "STARTING",
  RUNNING: "RUNNING",
  STOPPING: "STOPPING",
  STOPPED: "STOPPED",
  FAILED: "FAILED",
} as const;
export type ServiceState = (typeof SERVICE_STATE)[keyof typeof SERVICE_STATE];

/** What the supervisor tells about the entries it runs. */
export interface RuntimeView {
  /** The entry's lifecycle state (`CREATED`, `STARTING`, `RUNNING`, `STOPPING`, `STOPPED`, `FAILED`); undefined before it is built. */
  state(id: string): string | undefined;
  /** A one-shot service (with `completed()`, e.g. a migration) whose work has finished successfully. */
  finished(id: string): boolean;
  /** Every service entry, in start order. */
  services(): readonly string[];
  /** The services started at boot: the auto-start roots and everything they require, in start order. */
  bootServices(): readonly string[];
}

/** The supervisor's view, for entries that report on the others; hand-built contexts lack it. */
export function runtimeOf(entry: Entry, context: BuildContext): RuntimeView {
  if (!context.runtime) {
    throw new TaskrtError("E_INTERNAL", `internal: ${entry.id} needs the supervisor's runtime view in its build context`, { entryId: entry.id });
  }
  return context.runtime;
}
