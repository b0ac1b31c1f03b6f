/**
 * @module handlers/typescript/typescript-loader — imports a user's TypeScript module (`.ts`, `.mts`,
 * `.cts`; a handler or a kind module) without module hooks: esbuild compiles it, with the project
 * files it imports, into one ES module that is written to a cache folder and imported from there.
 *
 * Why not a loader such as tsx: Node 20 runs module hooks on a worker thread and every import is a
 * synchronous round trip to it (a third of start-up, and ~30 MB for the thread). One compiled file
 * per handler is also what makes `run --watch` simple: a new generation imports a new URL.
 *
 * - Packages stay imports, resolved by Node from the cache folder, which sits in the handler's
 *   nearest `node_modules` (`node_modules/.cache/taskrt/`), so they resolve as from the handler.
 * - `taskrt` is bound to the runtime running this code (its sources under the repository's tests,
 *   `node_modules/taskrt/dist` when installed): one runtime instance, one call context.
 * - `import.meta.url` (and `dirname`, `filename`) keep naming each source file, not the cache file.
 * - The inline source map makes stack traces point at the `.ts` lines.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BuildFailure, Plugin } from "esbuild";
import { buildCacheStats, cacheDirectory, contentHash, pruneOlder, readCached, tsconfigOf, writeCached } from "../../registry/build-cache.ts";
import { loadEsbuild } from "../../registry/esbuild.ts";

const TYPESCRIPT_EXTENSIONS = [".ts", ".mts", ".cts"];
/** The project files esbuild reads (not packages): their `import.meta` must name their own place. */
const PROJECT_SOURCE = /\.[cm]?[jt]sx?$/;
const IMPORT_META = /\bimport\.meta\.(url|dirname|filename)\b/g;
/** The runtime's public entry beside this module: `index.ts` in the sources, `index.js` in dist/. */
const RUNTIME_ENTRY = new URL(`../../index${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;
/** esbuild's `__require` shim calls `require` when there is one: CommonJS `require()` in a handler works. */
const REQUIRE_BANNER = `import { createRequire as __taskrtCreateRequire } from "node:module";\nconst require = __taskrtCreateRequire(import.meta.url);`;

export function isTypeScriptSource(file: string): boolean {
  return TYPESCRIPT_EXTENSIONS.some((extension) => file.endsWith(extension));
}

/** The options below, as part of each cache record's key: a change to them is a miss. */
const COMPILE_OPTIONS = `esm node${process.versions.node} inline-map runtime=${RUNTIME_ENTRY} ${REQUIRE_BANNER}`;
/** Compiled files kept per handler: the current one and a few a running `--watch` may still name. */
const KEEP_COMPILED = 3;

/**
 * Compiles `file` and its project imports to one cached ES module; resolves with that module's
 * file URL, to be `import()`ed (with a query, for a fresh copy). Compile errors are thrown as
 * `file:line:column: message`. When a record beside the cache says the sources are unchanged
 * (each input file hashes as it did), the cached module is used without loading esbuild.
 */
export async function compileTypeScriptModule(file: string): Promise<string> {
  const directory = cacheDirectory(path.dirname(file));
  // One name per source path and options: two handlers named alike, two checkouts, or taskrt from
  // its sources and from dist/ (another runtime binding) never overwrite each other's records.
  const key = `compile\0${path.resolve(file)}\0${COMPILE_OPTIONS}`;
  const stem = `${path.basename(file).replace(/\.[cm]?ts$/, "")}-${contentHash(key).slice(0, 8)}`;
  const record = path.join(directory, `${stem}.json`);
  const hit = readCached<string>(record, key);
  if (hit !== undefined && intactCompiled(path.join(directory, hit), stem)) {
    buildCacheStats.hits++;
    process.setSourceMapsEnabled(true);
    return pathToFileURL(path.join(directory, hit)).href;
  }
  buildCacheStats.misses++;
  // The cache file's name is known only once its content is: esbuild writes to this name for the
  // source map's relative paths, then the file is stored under its content hash.
  const outfile = path.join(directory, `${stem}.mjs`);
  const { code, inputs } = await compile(file, outfile);
  const cached = path.join(directory, `${stem}-${contentHash(code)}.mjs`);
  if (!intactCompiled(cached, stem)) {
    // Written then renamed: another process compiling the same handler never reads half a file.
    const partial = `${cached}.${process.pid}.tmp`;
    writeFileSync(partial, code);
    renameSync(partial, cached);
  }
  writeCached(record, key, inputs, path.basename(cached));
  pruneOlder(directory, `${stem}-`, ".mjs", cached, KEEP_COMPILED);
  process.setSourceMapsEnabled(true);
  return pathToFileURL(cached).href;
}

/** The compiled file exists and its content still hashes to the hash in its name (not truncated or edited). */
function intactCompiled(cached: string, stem: string): boolean {
  try {
    return path.basename(cached) === `${stem}-${contentHash(readFileSync(cached))}.mjs`;
  } catch {
    return false;
  }
}

async function compile(file: string, outfile: string): Promise<{ code: string; inputs: string[] }> {
  try {
    const result = await loadEsbuild().build({
      entryPoints: [file],
      outfile,
      absWorkingDir: path.dirname(file),
      bundle: true,
      write: false,
      metafile: true,
      format: "esm",
      platform: "node",
      target: `node${process.versions.node}`,
      packages: "external",
      sourcemap: "inline",
      sourcesContent: false,
      banner: { js: REQUIRE_BANNER },
      logLevel: "silent",
      plugins: [runtimeBinding, ownImportMeta],
    });
    // Project files only: packages are external, and the runtime binding is not a file esbuild read.
    const inputs = Object.keys(result.metafile!.inputs)
      .filter((input) => !input.includes(":"))
      .map((input) => path.resolve(path.dirname(file), input));
    return { code: result.outputFiles[0]!.text, inputs: [...new Set([path.resolve(file), ...inputs, ...tsconfigOf(file)])] };
  } catch (error) {
    const first = (error as Partial<BuildFailure>).errors?.[0];
    if (!first) throw error;
    const where = first.location ? `${path.resolve(path.dirname(file), first.location.file)}:${first.location.line}:${first.location.column + 1}: ` : "";
    throw new Error(`${where}${first.text}`, { cause: error });
  }
}

const runtimeBinding: Plugin = {
  name: "taskrt-runtime",
  setup(build) {
    build.onResolve({ filter: /^taskrt$/ }, () => ({ path: RUNTIME_ENTRY, external: true }));
  },
};

const ownImportMeta: Plugin = {
  name: "taskrt-import-meta",
  setup(build) {
    build.onLoad({ filter: PROJECT_SOURCE }, async (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const source = await readFile(args.path, "utf8");
      if (!source.includes("import.meta")) return undefined;
      const values: Record<string, string> = { url: pathToFileURL(args.path).href, dirname: path.dirname(args.path), filename: args.path };
      return { contents: source.replace(IMPORT_META, (_, name: string) => JSON.stringify(values[name])), loader: loaderOf(args.path) };
    });
  },
};

function loaderOf(file: string): "ts" | "tsx" | "js" | "jsx" {
  const extension = path.extname(file);
  if (extension.endsWith("tsx")) return "tsx";
  if (extension.endsWith("ts")) return "ts";
  return extension.endsWith("jsx") ? "jsx" : "js";
}
