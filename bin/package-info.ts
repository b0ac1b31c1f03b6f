/**
 * @module bin/package-info — where this copy of taskrt lives and what its package.json says.
 */
import { readFileSync } from "node:fs";
import { PACKAGE_ROOT, packagePath } from "../runtime/package-root.ts";

export { PACKAGE_ROOT };

const manifest = JSON.parse(readFileSync(packagePath("package.json"), "utf8")) as {
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};

export const VERSION: string = manifest.version;

/** The version range taskrt itself declares for a package, so a scaffold stays in step with it. */
export function declaredRange(name: string): string | undefined {
  return manifest.dependencies?.[name] ?? manifest.devDependencies?.[name];
}
