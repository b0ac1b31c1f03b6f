// A module resolve hook for bin/taskrt.js: resolves with the `taskrt-source` export condition, as
// `node --conditions=taskrt-source` would, so "taskrt" means runtime/index.ts in this repository.
export async function resolve(specifier, context, nextResolve) {
  const conditions = context.conditions.includes("taskrt-source") ? context.conditions : [...context.conditions, "taskrt-source"];
  return nextResolve(specifier, { ...context, conditions });
}
