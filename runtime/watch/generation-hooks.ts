/**
 * @module watch/generation-hooks — a module resolve hook (run by Node's loader, registered by
 * module-generations.ts) that hands a handler's reload generation on to its relative imports.
 *
 * Node caches ES modules by URL for the life of the process. A handler imported as
 * `process_task.ts?taskrt-generation=3` is a fresh copy, but its `import … from "./tasks.ts"` would
 * still resolve to the copy cached by generation 1; tagging the import with the same query makes
 * the whole relative import tree fresh. Bare specifiers (`taskrt`, packages, `node:`) are left
 * alone on purpose: the runtime and libraries must stay one shared instance.
 */
import type { ResolveHook } from "node:module";

const PARAMETER = "taskrt-generation";

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  const resolved = await nextResolve(specifier, context);
  const parent = context.parentURL;
  if (!parent?.startsWith("file:") || !isRelative(specifier) || !resolved.url.startsWith("file:")) return resolved;
  const generation = new URL(parent).searchParams.get(PARAMETER);
  if (generation === null || resolved.url.includes("/node_modules/")) return resolved;
  const url = new URL(resolved.url);
  url.searchParams.set(PARAMETER, generation);
  return { ...resolved, url: url.href };
};

function isRelative(specifier: string): boolean {
  return specifier.startsWith("./") || specifier.startsWith("../");
}
