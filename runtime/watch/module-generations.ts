/**
 * @module watch/module-generations — which copy of the TypeScript handlers the runtime imports.
 *
 * Node never unloads an ES module, so a reload cannot replace a handler in place; instead each
 * reload attempt opens a new generation and handlers are imported from
 * `file:///…/handler.js?taskrt-generation=N`, a URL Node has not cached yet. A TypeScript handler
 * is compiled into one file with its project imports (handlers/typescript/typescript-loader.ts),
 * so the query alone makes its whole graph fresh; for a JavaScript handler, the resolve hook in
 * generation-hooks.ts carries N on to its relative imports. Going back to an earlier generation (a refused or failed reload) gets exactly
 * the code that generation imported, whatever the files now say. Old copies stay in memory: each
 * reload costs the size of the handler modules, which is fine for development.
 *
 * A `.cjs` handler is loaded through `require`, whose cache is keyed by path alone, so a new
 * generation also forgets the project's own CommonJS modules (those under the registry root,
 * outside node_modules).
 */
import { createRequire, register } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const PARAMETER = "taskrt-generation";

/** 0 means no watch mode: handlers are imported by their plain file URL. */
let active = 0;
let latest = 0;
let hooksRegistered = false;

/** The URL a handler file is imported from in the active generation. */
export function handlerModuleUrl(file: string): string {
  const url = pathToFileURL(file);
  if (active > 0) url.searchParams.set(PARAMETER, String(active));
  return url.href;
}

/**
 * Makes a never-used generation active (registering the resolve hook the first time) for the
 * project under `root`; returns the generation it replaced.
 */
export function beginGeneration(root: string): number {
  if (!hooksRegistered) {
    // Beside this module: generation-hooks.ts in the sources, generation-hooks.js in dist/.
    register(new URL(`./generation-hooks${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url));
    hooksRegistered = true;
  }
  forgetCommonJsModules(root);
  const previous = active;
  active = ++latest;
  return previous;
}

/** Makes an earlier generation active again: its modules are still cached, so its code comes back unchanged. */
export function restoreGeneration(generation: number): void {
  active = generation;
}

/** Earlier generations keep working: their ES module wrappers hold the exports they were given. */
function forgetCommonJsModules(root: string): void {
  const cache = createRequire(import.meta.url).cache;
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  for (const file of Object.keys(cache)) {
    if (file.startsWith(prefix) && !file.includes(`${path.sep}node_modules${path.sep}`)) delete cache[file];
  }
}
