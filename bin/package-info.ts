/**
 * @module bin/package-info — where this copy of taskrt lives and what its package.json says.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The folder holding taskrt's package.json (a checkout, or `node_modules/taskrt`). */
export const PACKAGE_ROOT = fileURLToPath(new URL("..", import.meta.url));

const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};

export const VERSION: string = manifest.version;

/** The version range taskrt itself declares for a package, so a scaffold stays in step with it. */
export function declaredRange(name: string): string | undefined {
  return manifest.dependencies?.[name] ?? manifest.devDependencies?.[name];
}
