/**
 * @module package-root — the folder holding taskrt's package.json (a checkout, or
 * `node_modules/taskrt`), found the same way whether this code runs from its sources or from the
 * compiled `dist/`; `schemas/` and `templates/` live there.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

/** A path inside the package, e.g. `packagePath("schemas", "lifecycle.json")`. */
export function packagePath(...parts: string[]): string {
  return path.join(PACKAGE_ROOT, ...parts);
}

function findPackageRoot(start: string): string {
  for (let directory = start; ; directory = path.dirname(directory)) {
    if (existsSync(path.join(directory, "package.json"))) return directory;
    if (path.dirname(directory) === directory) throw new Error(`taskrt: no package.json above ${start} (a broken installation)`);
  }
}
