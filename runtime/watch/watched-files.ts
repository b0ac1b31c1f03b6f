/**
 * @module watch/watched-files — which files a registry is built from, and which changes in their
 * directories are worth a reload.
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { sourcePath, type Registry } from "../registry/entry.ts";
import { HandlerSourceError, readHandlerSource } from "../registry/handler-source.ts";
import { LOCK_FILE } from "../registry/load.ts";

/**
 * Extensions of registry, handler and schema files. A changed file with one of these in a watched
 * directory reloads even when no entry names it: it may be a new registry file or a module a
 * handler imports. Anything else (databases and their journals, editor swap files) is ignored.
 */
const RELOADING_EXTENSIONS = new Set([".yaml", ".yml", ".ts", ".mts", ".cts", ".js", ".mjs", ".cjs", ".lua", ".json"]);

/** Handler files whose imports are followed: the project files they import, in any folder, are watched too. */
const HANDLER_EXTENSIONS = new Set([".ts", ".mts", ".js", ".mjs"]);

/**
 * The YAML files that declared entries, `wippy.lock`, the path given itself when it is a file,
 * every `file://` an entry names, and the files a TypeScript or JavaScript handler imports.
 */
export function registryFiles(registry: Registry, target: string): string[] {
  const files = new Set<string>();
  const resolvedTarget = path.resolve(target);
  if (statSync(resolvedTarget, { throwIfNoEntry: false })?.isFile()) files.add(resolvedTarget);
  const lock = path.join(registry.root, LOCK_FILE);
  if (existsSync(lock)) files.add(lock);
  for (const entry of registry.entries) {
    files.add(entry.file);
    collectFileReferences(entry.data, files);
  }
  for (const file of [...files]) if (HANDLER_EXTENSIONS.has(path.extname(file))) for (const imported of importedFiles(file)) files.add(imported);
  return [...files];
}

/** The project files `handler` imports, transitively; none while it does not parse (saving a fix reloads it). */
function importedFiles(handler: string): string[] {
  if (!existsSync(handler)) return [];
  try {
    return readHandlerSource(handler).files;
  } catch (error) {
    if (error instanceof HandlerSourceError) return [];
    throw error;
  }
}

/** Whether a change to `file` (in a watched directory) should reload: a known file, or a code or config file, never a dot-file. */
export function isReloadingChange(file: string, knownFiles: ReadonlySet<string>): boolean {
  if (knownFiles.has(file)) return true;
  const name = path.basename(file);
  return !name.startsWith(".") && RELOADING_EXTENSIONS.has(path.extname(name));
}

/**
 * The loader made the `file://` value of every path field absolute; a relative one is data (a
 * schedule's message body), not a file the registry is built from.
 */
function collectFileReferences(value: unknown, files: Set<string>): void {
  if (typeof value === "string") {
    const file = sourcePath(value);
    if (file && path.isAbsolute(file)) files.add(file);
  } else if (Array.isArray(value)) {
    for (const item of value) collectFileReferences(item, files);
  } else if (value && typeof value === "object") {
    for (const item of Object.values(value)) collectFileReferences(item, files);
  }
}
