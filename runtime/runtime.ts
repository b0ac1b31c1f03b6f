/**
 * @module runtime — one call from a registry path to running services: load, apply overrides,
 * validate, then supervise. `checkRegistry` is the same pipeline without starting anything.
 */
import { RegistryError, type Problem } from "./errors.ts";
import { createKindTable } from "./kinds/index.ts";
import type { KindDefinition } from "./kinds/kind.ts";
import { createLogger, type Logger } from "./logger.ts";
import type { Registry } from "./registry/entry.ts";
import { loadRegistry } from "./registry/load.ts";
import { applyOverrides } from "./registry/overrides.ts";
import { validateRegistry } from "./registry/validate.ts";
import { Supervisor, type StartedEntry } from "./supervisor.ts";

export interface RuntimeOptions {
  /** An `_index.yaml`, a directory of registry files, or a project root with `wippy.lock`. */
  path: string;
  /** `ns:entry:field=value`, as `taskrt run -o`. */
  overrides?: readonly string[];
  /** Extra kinds, beside (or replacing) the built-in ones. */
  kinds?: readonly KindDefinition[];
  logger?: Logger;
}

export interface CheckedRegistry {
  registry: Registry;
  problems: Problem[];
}

export async function checkRegistry(options: RuntimeOptions): Promise<CheckedRegistry> {
  const kinds = createKindTable(options.kinds);
  const { registry, problems } = await loadRegistry(options.path);
  // A file that does not load declares no entries: every override aimed at them would be reported
  // as "no entry", burying the real error. Overrides are checked once the files load.
  if (!problems.some((problem) => problem.severity === "error")) problems.push(...applyOverrides(registry, options.overrides ?? []));
  if (!problems.some((problem) => problem.severity === "error")) problems.push(...(await validateRegistry(registry, kinds)));
  return { registry, problems };
}

export class Runtime {
  private stopping: Promise<void> | undefined;

  constructor(
    readonly registry: Registry,
    readonly supervisor: Supervisor,
    readonly warnings: Problem[],
  ) {}

  started(): StartedEntry[] {
    return this.supervisor.started();
  }

  component<T>(id: string): T {
    return this.supervisor.component(id) as T;
  }

  /** Graceful: stops dependents first, each within its `stop_timeout`. Safe to call twice. */
  stop(): Promise<void> {
    return (this.stopping ??= this.supervisor.stop());
  }
}

/** Loads, validates and starts a registry; refuses (RegistryError with every problem) when it has errors. */
export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const logger = options.logger ?? createLogger();
  const { registry, problems } = await checkRegistry(options);
  if (problems.some((problem) => problem.severity === "error")) throw new RegistryError(problems);
  const supervisor = new Supervisor(registry, createKindTable(options.kinds), logger);
  await supervisor.start();
  return new Runtime(registry, supervisor, problems);
}
