/**
 * @module registry/esbuild — loads esbuild, the one TypeScript compiler taskrt uses (to read a
 * handler's exports and imports, and to compile handlers to JavaScript), once and only when a
 * TypeScript or JavaScript handler is there to read.
 */
import { createRequire } from "node:module";
import { TaskrtError, errorMessage } from "../errors.ts";

export type Esbuild = typeof import("esbuild");

let esbuild: Esbuild | undefined;

/** esbuild is taskrt's own dependency: resolved from taskrt's folder, synchronously (`run --watch` reads sources synchronously). */
export function loadEsbuild(): Esbuild {
  if (esbuild) return esbuild;
  try {
    esbuild = createRequire(import.meta.url)("esbuild") as Esbuild;
  } catch (error) {
    throw new TaskrtError("E_ESBUILD", `cannot load esbuild, which compiles TypeScript handlers: ${errorMessage(error).split("\n")[0]}`, {
      hint: "reinstall taskrt (npm install): esbuild is one of its dependencies",
      cause: error,
    });
  }
  return esbuild;
}

/** Whether esbuild was loaded by this process (a start from a valid build cache does not load it). */
export function esbuildLoaded(): boolean {
  return esbuild !== undefined;
}

/**
 * Ends esbuild's service process, if it runs: once the handlers are loaded a run without
 * `--watch` has no more use for it. A later compile (a handler loaded afterwards) starts it again.
 */
export async function stopEsbuild(): Promise<void> {
  await esbuild?.stop();
}
