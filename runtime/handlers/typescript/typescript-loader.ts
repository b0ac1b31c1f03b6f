/**
 * @module handlers/typescript/typescript-loader — lets Node import users' TypeScript handler
 * sources (`.ts`, `.mts`, `.cts`), registering tsx the first time one is imported. taskrt itself
 * ships compiled, so a registry with only JavaScript or Lua handlers never loads a compiler.
 */
const TYPESCRIPT_EXTENSIONS = [".ts", ".mts", ".cts"];

let registered: Promise<void> | undefined;

export function isTypeScriptSource(file: string): boolean {
  return TYPESCRIPT_EXTENSIONS.some((extension) => file.endsWith(extension));
}

/** Resolves once `.ts` imports work: ES modules through tsx's module hooks, CommonJS through its require hook. */
export function ensureTypeScriptLoader(): Promise<void> {
  // Running from taskrt's own TypeScript sources (tests, development): a loader is already active.
  if (import.meta.url.endsWith(".ts")) return Promise.resolve();
  registered ??= (async () => {
    const [esm, commonJs] = await Promise.all([import("tsx/esm/api"), import("tsx/cjs/api")]);
    esm.register();
    commonJs.register();
  })();
  return registered;
}
