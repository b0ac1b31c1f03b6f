/**
 * @module registry/handler-source — reads a TypeScript or JavaScript handler without running it:
 * its export names, the project files it imports (transitively), and the `taskrt` modules it
 * imports. Validation and `run --watch` use it so that a handler's top-level code (a file write, a
 * `process.exit`) never runs before the runtime starts it.
 *
 * The parser is esbuild, the compiler that also loads handlers (handlers/typescript/typescript-loader.ts):
 * the handler is bundled in memory, with packages left external, and nothing is written or executed.
 */
import path from "node:path";
import type { BuildFailure, Message, Metafile, Plugin } from "esbuild";
import type { SourceLocation } from "../errors.ts";
import { buildCacheStats, cacheDirectory, readCached, recordFile, tsconfigOf, writeCached } from "./build-cache.ts";
import { loadEsbuild } from "./esbuild.ts";

/** What a handler file declares, read statically. */
export interface HandlerSource {
  /** Its export names, `default` included. */
  exports: string[];
  /** The handler file and every project file it imports, transitively (absolute paths). */
  files: string[];
}

/** One use of a `taskrt` module: `import { sql } from "taskrt"` or `t.sql` after `import * as t`. */
export interface ModuleImport {
  module: string;
  location: SourceLocation;
}

/** The handler does not parse or imports a file that does not exist; located at the first error. */
export class HandlerSourceError extends Error {
  constructor(
    message: string,
    readonly location: SourceLocation | undefined,
  ) {
    super(message);
    this.name = "HandlerSourceError";
  }
}

const TASKRT = /^taskrt(\/.*)?$/;
const MODULES_NAMESPACE = "taskrt-declared-modules";

function buildOptions(file: string) {
  return {
    entryPoints: [file],
    absWorkingDir: path.dirname(file),
    bundle: true,
    write: false,
    metafile: true,
    format: "esm" as const,
    platform: "node" as const,
    packages: "external" as const,
    logLevel: "silent" as const,
    outdir: path.dirname(file),
  };
}

/** The exports and the import graph of `file`; throws HandlerSourceError when it does not parse. For `run --watch`, which needs it synchronously. */
export function readHandlerSource(file: string): HandlerSource {
  try {
    return handlerSource(file, loadEsbuild().buildSync({ ...buildOptions(file), external: ["taskrt", "taskrt/*"] }).metafile!);
  } catch (error) {
    throw sourceError(file, error);
  }
}

/**
 * `file`'s exports and import graph, and its uses of `modules` (taskrt's module names) that are not
 * among `declared`, in it and in the files it imports. Throws HandlerSourceError when it does not parse.
 */
export async function analyseHandlerSource(
  file: string,
  modules: readonly string[],
  declared: ReadonlySet<string>,
  method?: string,
): Promise<{ source: HandlerSource; undeclared: ModuleImport[] }> {
  // Answered from the build cache while the handler's files are unchanged: no esbuild at start.
  const key = `analyse\0${path.resolve(file)}\0${modules.join(",")}\0${[...declared].sort().join(",")}\0${method ?? ""}`;
  const record = recordFile(cacheDirectory(path.dirname(file)), file, key);
  const cached = readCached<{ source: HandlerSource; undeclared: ModuleImport[] }>(record, key);
  if (cached) {
    buildCacheStats.hits++;
    return cached;
  }
  buildCacheStats.misses++;
  const analysed = await analyseWithEsbuild(file, modules, declared, method);
  writeCached(record, key, [...analysed.source.files, ...tsconfigOf(file)], analysed);
  return analysed;
}

async function analyseWithEsbuild(
  file: string,
  modules: readonly string[],
  declared: ReadonlySet<string>,
  method: string | undefined,
): Promise<{ source: HandlerSource; undeclared: ModuleImport[] }> {
  const found = await importsOfUndeclared(file, modules, declared);
  if (method === undefined || found.undeclared.length === 0 || !found.source.exports.includes(method)) return found;
  // A file may hold several entries' methods, each declaring only what it uses: keep the modules
  // this entry's method can reach.
  const reached = await modulesReachedBy(file, method, modules, new Set(found.undeclared.map((use) => use.module)));
  return { source: found.source, undeclared: found.undeclared.filter((use) => reached.has(use.module)) };
}

const UNDECLARED_MARK = "taskrt-undeclared-module:";

/**
 * Which of `candidates` the file's `method` (with the module's top-level code) reaches: a bundle
 * of that one export, tree-shaken, keeps a module's stand-in only where something uses it. Should
 * the file import other names from taskrt, the build fails and every candidate is kept.
 */
async function modulesReachedBy(file: string, method: string, modules: readonly string[], candidates: ReadonlySet<string>): Promise<Set<string>> {
  const standIn: Plugin = {
    name: "taskrt-marked-modules",
    setup(build) {
      build.onResolve({ filter: TASKRT }, (args) => ({ path: args.path, namespace: MODULES_NAMESPACE }));
      build.onLoad({ filter: /.*/, namespace: MODULES_NAMESPACE }, () => ({
        contents: modules.map((name) => `export const ${name} = { mark: ${JSON.stringify(candidates.has(name) ? UNDECLARED_MARK + name : name)} };`).join("\n"),
        loader: "js",
      }));
    },
  };
  try {
    const result = await loadEsbuild().build({
      ...buildOptions(file),
      entryPoints: undefined,
      stdin: { contents: `export { ${method} } from ${JSON.stringify("./" + path.basename(file))};`, resolveDir: path.dirname(file), loader: "js" },
      metafile: false,
      treeShaking: true,
      plugins: [standIn],
    });
    const output = result.outputFiles?.map((out) => out.text).join("\n") ?? "";
    return new Set([...candidates].filter((name) => output.includes(UNDECLARED_MARK + name)));
  } catch {
    // Cannot tell: keep every finding, as the file-wide scan made it.
    return new Set(candidates);
  }
}

async function importsOfUndeclared(
  file: string,
  modules: readonly string[],
  declared: ReadonlySet<string>,
): Promise<{ source: HandlerSource; undeclared: ModuleImport[] }> {
  const esbuild = loadEsbuild();
  // `taskrt` becomes a module exporting only the declared names: esbuild then reports each
  // import of another one, named or through a namespace, at the place it is written.
  const offered: Plugin = {
    name: "taskrt-declared-modules",
    setup(build) {
      build.onResolve({ filter: TASKRT }, (args) => ({ path: args.path, namespace: MODULES_NAMESPACE }));
      build.onLoad({ filter: /.*/, namespace: MODULES_NAMESPACE }, () => ({
        contents: [...declared].map((name) => `export const ${name} = undefined;`).join("\n"),
        loader: "js",
      }));
    },
  };
  try {
    const result = await esbuild.build({ ...buildOptions(file), plugins: [offered] });
    return { source: handlerSource(file, result.metafile!), undeclared: moduleImports(file, result.warnings, modules, declared) };
  } catch (error) {
    const failure = error as Partial<BuildFailure>;
    if (!failure.errors) throw error;
    const other = failure.errors.filter((message) => !message.text.includes(MODULES_NAMESPACE));
    if (other.length > 0) throw sourceError(file, error);
    // Only undeclared modules: the graph and exports come from a build that takes every name.
    const undeclared = moduleImports(file, [...failure.errors, ...(failure.warnings ?? [])], modules, declared);
    try {
      const result = await esbuild.build({ ...buildOptions(file), external: ["taskrt", "taskrt/*"] });
      return { source: handlerSource(file, result.metafile!), undeclared };
    } catch (retried) {
      throw sourceError(file, retried);
    }
  }
}

function handlerSource(file: string, metafile: Metafile): HandlerSource {
  const base = path.dirname(file);
  const output = Object.values(metafile.outputs).find((candidate) => candidate.entryPoint !== undefined);
  const files = Object.keys(metafile.inputs)
    .filter((input) => !input.includes(":"))
    .map((input) => path.resolve(base, input));
  return { exports: [...(output?.exports ?? [])].sort(), files: [...new Set([path.resolve(file), ...files])] };
}

/** A failed build as a HandlerSourceError at its first error; anything else is a bug, thrown as it is. */
function sourceError(file: string, error: unknown): unknown {
  const first = (error as Partial<BuildFailure>).errors?.[0];
  return first ? new HandlerSourceError(first.text, messageLocation(first, path.dirname(file))) : error;
}

/** The uses of undeclared modules among esbuild's messages about the offered `taskrt`. */
function moduleImports(file: string, messages: readonly Message[], modules: readonly string[], declared: ReadonlySet<string>): ModuleImport[] {
  const found: ModuleImport[] = [];
  for (const message of messages) {
    const name = /^(?:No matching export in "[^"]*" for import|Import) "([^"]+)"/.exec(message.text)?.[1];
    const location = messageLocation(message, path.dirname(file));
    if (!name || !location || !message.text.includes(MODULES_NAMESPACE)) continue;
    // Other names (startRuntime, error classes) are not modules: Node checks them when it imports.
    if (modules.includes(name) && !declared.has(name)) found.push({ module: name, location });
  }
  const key = ({ location }: ModuleImport) => [location.file, location.line, location.column] as const;
  return found.sort((left, right) => {
    const [fileA, lineA, columnA] = key(left);
    const [fileB, lineB, columnB] = key(right);
    return fileA !== fileB ? (fileA < fileB ? -1 : 1) : lineA - lineB || columnA - columnB;
  });
}

function messageLocation(message: Message, base: string): SourceLocation | undefined {
  if (!message.location) return undefined;
  return { file: path.resolve(base, message.location.file), line: message.location.line, column: message.location.column + 1 };
}
