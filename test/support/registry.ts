/**
 * @module test/support/registry — registries for unit tests, built from a YAML snippet by the real
 * loader and validator, so tests see the real defaults, field positions and reference checks; and
 * the components of such a registry, built by the real kinds with stand-ins where a test wants them.
 *
 *   const registry = await registryFrom(`
 *     - name: driver
 *       kind: queue.driver.memory
 *     - name: tasks
 *       kind: queue.queue
 *       driver: app:driver
 *   `);
 *
 * Test support only: nothing under runtime/ (or the shipped package) may import it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { formatProblem, TaskrtError, type Problem } from "../../runtime/errors.ts";
import { createLogger, type Logger } from "../../runtime/logger.ts";
import { Supervisor } from "../../runtime/supervisor.ts";
import type { Entry, Registry } from "../../runtime/registry/entry.ts";
import { loadRegistry } from "../../runtime/registry/load.ts";
import { validateRegistry } from "../../runtime/registry/validate.ts";
import { closestMatches } from "../../runtime/registry/suggest.ts";
import { dependencyGraph, topologicalOrder } from "../../runtime/registry/graph.ts";
import { createKindTable } from "../../runtime/kinds/index.ts";
import type { KindDefinition } from "../../runtime/contracts/kind-definition.ts";
import type { BuildContext } from "../../runtime/contracts/build-context.ts";
import type { Component } from "../../runtime/contracts/component.ts";
import type { RuntimeServices } from "../../runtime/contracts/runtime-services.ts";
import type { QueueHandle } from "../../runtime/drivers/queue/driver.ts";
import type { SqlDatabase } from "../../runtime/drivers/sql/driver.ts";

/** The registry fixtures of the loader and validator tests: one directory per case. */
export const REGISTRY_FIXTURES = fileURLToPath(new URL("../fixtures/registry/", import.meta.url));

/**
 * A module the function entries of a snippet can name (`source: file://handler.mjs`, `method:
 * handle`) so they pass the validator, for tests that stand closures in for the functions.
 */
export const STAND_IN_MODULE: Readonly<Record<string, string>> = { "app/handler.mjs": "export function handle() {}\n" };

export interface SnippetOptions {
  /** Namespace of the snippet's entries when it is a bare list of entries. Default `app`. */
  namespace?: string;
  /** Where the snippet is written, relative to the registry root. Default `app/_index.yaml`. */
  file?: string;
  /** More files under the registry root (handler modules, other registry files), by relative path. */
  files?: Record<string, string>;
  /** Kinds beside (or replacing) the built-ins, as `startRuntime({ kinds })` takes them. */
  kinds?: readonly KindDefinition[];
  /**
   * Codes of problems the validator must report, and which are let through: for tests of how a kind
   * copes with a registry the validator would refuse. Any other error still throws.
   */
  expectProblems?: readonly string[];
}

/**
 * Some of the built-in kinds (their real definitions: references, checks, service flags), plus
 * `extra`: for validator tests whose messages list the known kinds, which a new built-in kind
 * should not change.
 */
export function builtinKinds(names: readonly string[], extra: readonly KindDefinition[] = []): Map<string, KindDefinition> {
  const all = createKindTable();
  const table = new Map<string, KindDefinition>();
  for (const name of names) table.set(name, all.get(name) ?? failWith(`no built-in kind ${name}`));
  for (const definition of extra) table.set(definition.kind, definition);
  return table;
}

/** The built-in kinds the registry fixtures (REGISTRY_FIXTURES) use, plus `extra`. */
export function fixtureKinds(extra: readonly KindDefinition[] = []): Map<string, KindDefinition> {
  return builtinKinds(["db.sql.sqlite", "queue.driver.memory", "queue.queue", "queue.consumer", "function.ts", "http.service", "http.router", "http.endpoint"], extra);
}

let scratch: string | undefined;

/** One scratch directory per test process, removed when the process exits. */
function scratchDirectory(): string {
  if (!scratch) {
    const directory = mkdtempSync(join(tmpdir(), "taskrt-snippet-"));
    process.once("exit", () => rmSync(directory, { recursive: true, force: true }));
    scratch = directory;
  }
  return mkdtempSync(join(scratch, "registry-"));
}

/** Left-aligns a template literal, so snippets can be indented with the test code. */
export function dedent(text: string): string {
  const lines = text.replace(/^\n/, "").replace(/\n\s*$/, "").split("\n");
  const indent = Math.min(...lines.filter((line) => line.trim()).map((line) => line.match(/^ */)![0].length));
  return lines.map((line) => line.slice(indent)).join("\n") + "\n";
}

export interface CheckedSnippet {
  registry: Registry;
  /** Every problem the loader or validator reported, errors and warnings. */
  problems: Problem[];
  /** The snippet as written to `app/_index.yaml` (or `options.file`). */
  text: string;
  /** Removes the registry folder now rather than when the process exits. */
  remove(): void;
}

/**
 * Writes a snippet into a fresh registry folder and checks it as `taskrt check` does: loaded, then
 * (when it loads) validated, defaults filled. A bare list of entries (`- name: …`) is written
 * under `namespace: app`; a whole registry file is written as is. `{dir}` stands for the registry
 * folder (e.g. `file: "{dir}/app.db"`).
 */
export async function checkSnippet(yaml: string, options: SnippetOptions = {}): Promise<CheckedSnippet> {
  const root = scratchDirectory();
  const dedented = dedent(yaml).replaceAll("{dir}", root);
  const text = dedented.startsWith("- ") ? `version: "1.0"\nnamespace: ${options.namespace ?? "app"}\nentries:\n${indent(dedented)}` : dedented;
  const files = { [options.file ?? "app/_index.yaml"]: text, ...options.files };
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  const { registry, problems } = await loadRegistry(root);
  if (!problems.some((problem) => problem.severity === "error")) problems.push(...(await validateRegistry(registry, createKindTable(options.kinds))));
  return { registry, problems, text, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * A registry from YAML (see `checkSnippet`) that the validator accepts: any problem it reports
 * (bar `expectProblems`) throws, listing them all with the snippet.
 */
export async function registryFrom(yaml: string, options: SnippetOptions = {}): Promise<Registry> {
  const { registry, problems, text } = await checkSnippet(yaml, options);
  const expected = new Set(options.expectProblems ?? []);
  const missing = [...expected].filter((code) => !problems.some((problem) => problem.code === code));
  const errors = problems.filter((problem) => problem.severity === "error" && !expected.has(problem.code));
  if (errors.length || missing.length) {
    const listed = problems.map((problem) => formatProblem(problem, (file) => file.slice(registry.root.length + 1))).join("\n");
    const unreported = missing.length ? `expected problems ${missing.join(", ")} were not reported; ` : "";
    throw new Error(`${unreported}the snippet is not a valid registry:\n${listed}\n--- ${options.file ?? "app/_index.yaml"}\n${text}`);
  }
  return registry;
}

/** A server on an ephemeral port, started at boot, and a router `app:router` on it: the usual base of a snippet. */
export const GATEWAY = `
  - name: gateway
    kind: http.service
    addr: "127.0.0.1:0"
    lifecycle:
      auto_start: true
  - name: router
    kind: http.router
    meta:
      server: app:gateway
`;

export interface StartedSnippet {
  registry: Registry;
  supervisor: Supervisor;
  /** The base URL of `app:gateway` (or `gateway`), once started. */
  url(gateway?: string): string;
  /** Stops every entry, then removes the registry folder. */
  stop(): Promise<void>;
}

/**
 * A registry from YAML (see `registryFrom`) started by the real supervisor and kinds table, as
 * `taskrt run` starts one; logs go nowhere unless `options.logger` takes them.
 */
export async function startSnippet(yaml: string, options: SnippetOptions & { logger?: Logger } = {}): Promise<StartedSnippet> {
  const registry = await registryFrom(yaml, options);
  const remove = () => rmSync(registry.root, { recursive: true, force: true });
  const supervisor = new Supervisor(registry, createKindTable(options.kinds), options.logger ?? createLogger({ level: "error", sink: { write() {} } }));
  try {
    await supervisor.start();
  } catch (error) {
    remove();
    throw error;
  }
  return {
    registry,
    supervisor,
    url: (gateway = "app:gateway") => `http://127.0.0.1:${supervisor.component<{ address(): { port: number } }>(gateway).address().port}`,
    async stop() {
      await supervisor.stop();
      remove();
    },
  };
}

/** `registryFrom` for entries given as objects (`{ name, kind, ...fields }`), for tests that vary the fields. */
export function registryOf(entries: readonly Record<string, unknown>[], options: SnippetOptions = {}): Promise<Registry> {
  return registryFrom(stringify(entries), options);
}

/** The one entry of a snippet, or the one named `id`. */
export async function entryFrom(yaml: string, options: SnippetOptions & { id?: string } = {}): Promise<Entry> {
  const registry = await registryFrom(yaml, options);
  if (options.id) return registry.byId.get(options.id) ?? failWith(`no entry ${options.id} in the snippet`);
  if (registry.entries.length !== 1) return failWith(`the snippet declares ${registry.entries.length} entries: name the one wanted with options.id`);
  return registry.entries[0];
}

function failWith(message: string): never {
  throw new Error(message);
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => (line ? `  ${line}` : line))
    .join("\n");
}

/**
 * A BuildContext over `components`, which the test fills as it creates them. Its services find
 * databases and queues among the components by id and kind, with the supervisor's errors and
 * hints; it has no runtime view and no instruments, as a context built outside the supervisor.
 */
export function buildContext(registry: Registry, components: Map<string, unknown>, logger: Logger): BuildContext {
  const component = <T = Component>(id: string): T => {
    const found = components.get(id);
    if (!found) throw new TaskrtError("E_NO_COMPONENT", `no component for ${id}`);
    return found as T;
  };
  const typed = <T>(id: string, kindPrefix: string, code: string, what: string): T => {
    const entry = registry.byId.get(id);
    if (!entry || !entry.kind.startsWith(kindPrefix) || !components.has(id)) {
      const candidates = registry.entries.filter((candidate) => candidate.kind.startsWith(kindPrefix)).map((candidate) => candidate.id);
      const close = closestMatches(id, candidates, 1)[0];
      throw new TaskrtError(code, entry && !entry.kind.startsWith(kindPrefix) ? `${id} is a ${entry.kind}, not a ${what}` : `${what} ${id} not found`, {
        hint: close ? `did you mean ${close}?` : candidates.length ? `known: ${candidates.join(", ")}` : `the registry declares no ${what}`,
      });
    }
    return components.get(id) as T;
  };
  const services: RuntimeServices = {
    database: (id) => typed<SqlDatabase>(id, "db.sql.", "E_DB_NOT_FOUND", "database"),
    queue: (id) => typed<QueueHandle>(id, "queue.queue", "E_QUEUE_NOT_FOUND", "queue"),
  };
  return { registry, logger, component, services };
}

/**
 * Creates the component of every entry, in dependency order, with the real kinds (plus
 * `options.kinds`); `standIns` are used instead for their ids (e.g. a function whose body is a
 * closure of the test). Nothing is started.
 */
export function createComponents(
  registry: Registry,
  logger: Logger,
  options: { standIns?: Record<string, unknown>; kinds?: readonly KindDefinition[] } = {},
): Map<string, Component> {
  const kinds = createKindTable(options.kinds);
  const components = new Map<string, unknown>(Object.entries(options.standIns ?? {}));
  const context = buildContext(registry, components, logger);
  for (const id of topologicalOrder(dependencyGraph(registry, kinds))) {
    if (components.has(id) || !registry.byId.has(id)) continue;
    const entry = registry.byId.get(id)!;
    components.set(id, kinds.get(entry.kind)!.create(entry, context));
  }
  return components as Map<string, Component>;
}
