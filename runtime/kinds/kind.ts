/**
 * @module kinds/kind — the contract every kind implements: which fields reference other entries,
 * whether the supervisor runs it, extra semantic checks, and the factory that builds it.
 * A kind's fields, defaults and limits live in its JSON Schema (`schemas/<kind>.json`), never here.
 */
import { TaskrtError, type Problem } from "../errors.ts";
import type { Entry, FieldPath, Registry } from "../registry/entry.ts";
import type { Logger } from "../logger.ts";

/** A field holding one id or a list of ids of other entries. */
export interface ReferenceField {
  path: FieldPath;
  /** Kinds the target may have; `"function.*"` matches by prefix. Empty: any kind. */
  kinds: readonly string[];
}

export interface KindDefinition {
  kind: string;
  /** One line for the README's kinds table and `--help`. */
  summary: string;
  references: readonly ReferenceField[];
  /** Supervised: has a `lifecycle`, is started in dependency order and stopped in reverse. */
  service: boolean;
  /** Checks beyond the schema and references (a source file exports its `method`, …). */
  check?(entry: Entry, registry: Registry): Problem[] | Promise<Problem[]>;
  /** Builds the component. Does no I/O: opening, listening and connecting happen in `start`. */
  create(entry: Entry, context: BuildContext): Component;
}

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
  instruments?: import("../metrics/instruments.ts").Instruments;
}

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

/** A live entry. Every method is optional: plain resources (a queue, a function) need none. */
export interface Component {
  start?(): Promise<void>;
  stop?(): Promise<void>;
  /** One-shot services (a migration): resolves once the work finished successfully. Dependents wait for it. */
  completed?(): Promise<void>;
  /** Status for humans: `listening on 127.0.0.1:8080`. */
  describe?(): string | undefined;
}

/** What handler modules reach at run time: other live entries, looked up by id and checked by kind. */
export interface RuntimeServices {
  /** A database still starting is awaited (as Wippy's `sql.get` yields until the resource is ready). */
  database(id: string): import("../drivers/sql/driver.ts").SqlDatabase | Promise<import("../drivers/sql/driver.ts").SqlDatabase>;
  queue(id: string): import("../drivers/queue/driver.ts").QueueHandle;
}

/** The supervisor's view, for entries that report on the others; hand-built contexts lack it. */
export function runtimeOf(entry: Entry, context: BuildContext): RuntimeView {
  if (!context.runtime) {
    throw new TaskrtError("E_INTERNAL", `internal: ${entry.id} needs the supervisor's runtime view in its build context`, { entryId: entry.id });
  }
  return context.runtime;
}

export function defineKind(definition: KindDefinition): KindDefinition {
  return definition;
}

/** `"function.*"` matches `function.ts` and `function.lua`. */
export function kindMatches(kind: string, accepted: readonly string[]): boolean {
  if (accepted.length === 0) return true;
  return accepted.some((pattern) => (pattern.endsWith(".*") ? kind.startsWith(pattern.slice(0, -1)) : kind === pattern));
}
