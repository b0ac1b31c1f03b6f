/**
 * @module runtime — one call from a registry path to running services: load, apply overrides,
 * validate, then supervise. `checkRegistry` is the same pipeline without starting anything.
 */
import type { Headers } from "./drivers/queue/driver.ts";
import { RegistryError, TaskrtError, type Problem } from "./errors.ts";
import { isCallableComponent } from "./handlers/handler.ts";
import { createKindTable } from "./kinds/index.ts";
import type { KindDefinition } from "./contracts/kind-definition.ts";
import { createLogger, type Logger } from "./logger.ts";
import type { Registry } from "./registry/entry.ts";
import { loadRegistry } from "./registry/load.ts";
import { kindSchemaSet } from "./registry/kind-schemas.ts";
import { applyOverrides } from "./registry/overrides.ts";
import { neverStartedProblems } from "./registry/never-started.ts";
import { refuseUnknownFields, sortProblems, validateRegistry } from "./registry/validate.ts";
import { Supervisor, type FailedEntry, type StartedEntry } from "./supervisor.ts";
import { guardUnhandledErrors } from "./unhandled-errors.ts";

export interface RuntimeOptions {
  /** An `_index.yaml`, a directory of registry files, or a project root with `wippy.lock`. */
  path: string;
  /** `ns:entry:field=value`, as `taskrt run -o`. */
  overrides?: readonly string[];
  /** Extra kinds, beside (or replacing) the built-in ones; a new kind carries its `schema`. */
  kinds?: readonly KindDefinition[];
  logger?: Logger;
  /** Unknown fields are errors rather than warnings (`--strict`). */
  strict?: boolean;
  /** Aborting it during start-up stops what has started; `startRuntime` then rejects with E_INTERRUPTED. */
  signal?: AbortSignal;
}

export interface CheckedRegistry {
  registry: Registry;
  problems: Problem[];
}

export async function checkRegistry(options: RuntimeOptions): Promise<CheckedRegistry> {
  const kinds = createKindTable(options.kinds);
  const schemas = kindSchemaSet(options.kinds);
  const { registry, problems } = await loadRegistry(options.path, schemas);
  // A file that does not load declares no entries: every override aimed at them would be reported
  // as "no entry", burying the real error. Overrides are checked once the files load.
  if (!problems.some((problem) => problem.severity === "error")) problems.push(...applyOverrides(registry, options.overrides ?? []));
  if (!problems.some((problem) => problem.severity === "error")) problems.push(...(await validateRegistry(registry, kinds, schemas)));
  // Judged on the whole kinds table: which kinds serve others is read from every kind's references.
  if (!problems.some((problem) => problem.severity === "error")) problems.push(...neverStartedProblems(registry, kinds));
  return { registry, problems: sortProblems(options.strict ? refuseUnknownFields(problems) : problems) };
}

export class Runtime {
  private stopping: Promise<void> | undefined;

  constructor(
    readonly registry: Registry,
    readonly supervisor: Supervisor,
    readonly warnings: Problem[],
    private readonly releaseGuard: () => void = () => {},
  ) {}

  started(): StartedEntry[] {
    return this.supervisor.started();
  }

  /** Optional boot services that did not start, and why. */
  failed(): FailedEntry[] {
    return this.supervisor.failed();
  }

  component<T>(id: string): T {
    return this.supervisor.component(id) as T;
  }

  /**
   * Publishes `body` to the `queue.queue` entry `queueId`, as a handler's `queue.publish` does
   * (for tests and scripts driving a running registry); resolves with the message id.
   */
  async publish(queueId: string, body: unknown, headers?: Headers): Promise<string> {
    return this.supervisor.services.queue(queueId).publish(body, headers);
  }

  /**
   * Calls the `function.*` or `process.*` entry `id` with `args`, in its own call context (its
   * declared modules, its timeout); resolves with what it returns, rejects with what it throws.
   */
  async call<Result = unknown>(id: string, ...args: unknown[]): Promise<Result> {
    const entry = this.registry.byId.get(id);
    const component = entry ? this.supervisor.component(id) : undefined;
    if (!isCallableComponent(component)) {
      throw new TaskrtError("E_NOT_CALLABLE", `${id} is ${entry ? `a ${entry.kind} entry, not a function` : "not an entry of this registry"}`, {
        hint: "call a function.* or process.* entry by its full id, e.g. app:create_task",
      });
    }
    const result = await component.callable().call(args);
    if (result.error) throw result.error;
    return result.value as Result;
  }

  /** Graceful: stops dependents first, each within its `stop_timeout`. Safe to call twice. */
  stop(): Promise<void> {
    return (this.stopping ??= this.supervisor.stop().finally(this.releaseGuard));
  }
}

/** Loads, validates and starts a registry; refuses (RegistryError with every problem) when it has errors. */
export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const logger = options.logger ?? createLogger();
  const { registry, problems } = await checkRegistry(options);
  if (problems.some((problem) => problem.severity === "error")) throw new RegistryError(problems);
  return startChecked(registry, problems, { ...options, logger });
}

/** The start half of `startRuntime`, for a registry already checked (the watch session's reloads). */
export async function startChecked(registry: Registry, warnings: Problem[], options: Pick<RuntimeOptions, "kinds" | "logger" | "signal">): Promise<Runtime> {
  const logger = options.logger ?? createLogger();
  const supervisor = new Supervisor(registry, createKindTable(options.kinds), logger);
  // From the first handler call on: a migration may leak an error while the rest still starts.
  const releaseGuard = guardUnhandledErrors({ services: supervisor.services, logger, instruments: supervisor.instruments });
  try {
    await supervisor.start(options.signal);
  } catch (error) {
    releaseGuard();
    throw error;
  }
  return new Runtime(registry, supervisor, warnings, releaseGuard);
}
