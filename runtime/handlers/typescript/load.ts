/**
 * @module handlers/typescript/load — imports a TypeScript or JavaScript handler source and picks
 * the entry's `method` from its exports (named, or a property of the default export).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { TaskrtError, errorMessage } from "../../errors.ts";
import { sourcePath, type Entry } from "../../registry/entry.ts";
import { handlerModuleUrl } from "../../watch/module-generations.ts";
import { compileTypeScriptModule, isTypeScriptSource } from "./typescript-loader.ts";

export type HandlerFunction = (...args: unknown[]) => unknown;

const SOURCE_EXTENSIONS = [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"];
const COMMONJS_EXTENSIONS = [".cjs"];

export function typeScriptSourceFile(entry: Entry): string {
  const source = String(entry.data.source ?? "");
  const file = sourcePath(source);
  if (!file) {
    throw new TaskrtError("E_SOURCE", `${entry.id}: source must be a file:// path to a .ts/.js module, found inline code`, {
      entryId: entry.id,
      hint: "write source: file://handler.ts (relative to the YAML file)",
    });
  }
  return file;
}

/** The entry's handler file, which exists and has a handler extension. */
export function existingSourceFile(entry: Entry): string {
  const file = typeScriptSourceFile(entry);
  if (!existsSync(file)) {
    throw new TaskrtError("E_SOURCE_MISSING", `${entry.id}: source file ${file} does not exist`, { entryId: entry.id });
  }
  if (!SOURCE_EXTENSIONS.some((extension) => file.endsWith(extension))) {
    throw new TaskrtError("E_SOURCE", `${entry.id}: source ${file} is not a .ts, .mts, .cts, .js, .mjs or .cjs file`, { entryId: entry.id });
  }
  return file;
}

/** The module's exported function names, or an error explaining why it cannot be imported. */
export async function importHandlerModule(entry: Entry): Promise<Record<string, unknown>> {
  const file = existingSourceFile(entry);
  try {
    // The active generation's URL: `taskrt run --watch` imports a fresh copy on every reload.
    if (isTypeScriptSource(file)) return (await import(await compiledModuleUrl(file))) as Record<string, unknown>;
    // Watch mode clears require's cache for a new generation.
    if (COMMONJS_EXTENSIONS.some((extension) => file.endsWith(extension))) return createRequire(file)(file) as Record<string, unknown>;
    return (await import(handlerModuleUrl(file))) as Record<string, unknown>;
  } catch (error) {
    throw new TaskrtError("E_SOURCE_LOAD", `${entry.id}: cannot load ${file}: ${errorMessage(error)}`, { entryId: entry.id, cause: error });
  }
}

/** Compiled once per generation: an earlier generation, restored, gets the code it compiled then. */
const compiledModules = new Map<string, Promise<string>>();

function compiledModuleUrl(file: string): Promise<string> {
  const key = handlerModuleUrl(file);
  let url = compiledModules.get(key);
  if (!url) {
    url = compileTypeScriptModule(file).then((compiled) => handlerModuleUrl(fileURLToPath(compiled)));
    compiledModules.set(key, url);
    url.catch(() => compiledModules.delete(key));
  }
  return url;
}

export function exportedFunctions(exports: Record<string, unknown>): Record<string, HandlerFunction> {
  const functions: Record<string, HandlerFunction> = {};
  const defaults = exports.default;
  if (defaults && typeof defaults === "object") {
    for (const [name, value] of Object.entries(defaults)) if (typeof value === "function") functions[name] = value as HandlerFunction;
  }
  for (const [name, value] of Object.entries(exports)) if (typeof value === "function" && name !== "default") functions[name] = value as HandlerFunction;
  return functions;
}

export async function loadHandlerFunction(entry: Entry): Promise<HandlerFunction> {
  const method = String(entry.data.method);
  const functions = exportedFunctions(await importHandlerModule(entry));
  const handler = functions[method];
  if (!handler) {
    const names = Object.keys(functions);
    throw new TaskrtError("E_METHOD_MISSING", `${entry.id}: ${typeScriptSourceFile(entry)} does not export a function '${method}'`, {
      entryId: entry.id,
      hint: names.length ? `exported functions: ${names.join(", ")}` : "the module exports no functions",
    });
  }
  return handler;
}
