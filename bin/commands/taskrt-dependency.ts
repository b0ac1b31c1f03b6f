/**
 * @module bin/commands/taskrt-dependency — what a new project's package.json names as its taskrt,
 * so that `npm install` there works: the registry's `^VERSION` when this version is published,
 * otherwise this very copy — the tarball it was installed from, or else its folder.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

export interface TaskrtDependency {
  /** The version spec for package.json: `^0.1.0`, `file:/…/taskrt-0.1.0.tgz` or `file:/…/taskrt`. */
  spec: string;
  /** Why this one, for the report. */
  reason: string;
}

export interface DependencyContext {
  version: string;
  /** This copy's folder: a checkout, or `…/node_modules/taskrt`. */
  packageRoot: string;
  /** The npm command to ask the registry with. */
  npm: string;
  /** How long the registry may take to answer before the version counts as unpublished. */
  timeoutMs: number;
}

export async function resolveTaskrtDependency(given: string | undefined, context: DependencyContext): Promise<TaskrtDependency> {
  if (given !== undefined) return { spec: `file:${path.resolve(given)}`, reason: "as --taskrt-path asked" };
  if (await isPublished(context)) return { spec: `^${context.version}`, reason: `taskrt ${context.version} is on the npm registry` };
  const unpublished = `taskrt ${context.version} is not on the npm registry, or it did not answer`;
  const tarball = installedFromTarball(context.packageRoot);
  if (tarball) return { spec: `file:${tarball}`, reason: `${unpublished}; this is the tarball this taskrt was installed from` };
  return { spec: `file:${context.packageRoot}`, reason: `${unpublished}; this is this taskrt's folder` };
}

/** `npm view taskrt@VERSION version` prints the version when it is published; offline, an error or silence means no. */
function isPublished({ npm, version, timeoutMs }: DependencyContext): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(npm, ["view", `taskrt@${version}`, "version", "--fetch-retries=0", `--fetch-timeout=${timeoutMs}`], { timeout: timeoutMs, windowsHide: true }, (error, stdout) => {
      resolve(!error && String(stdout).trim() === version);
    });
  });
}

/**
 * The tarball named by the project that installed this copy (`npm install ./taskrt-0.1.0.tgz`
 * writes `"taskrt": "file:taskrt-0.1.0.tgz"` to its package.json), as an absolute path, if it still exists.
 */
function installedFromTarball(packageRoot: string): string | undefined {
  const modules = path.dirname(packageRoot);
  if (path.basename(modules) !== "node_modules") return undefined;
  const project = path.dirname(modules);
  let manifest: { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
  try {
    manifest = JSON.parse(readFileSync(path.join(project, "package.json"), "utf8"));
  } catch {
    return undefined;
  }
  const spec = manifest.dependencies?.taskrt ?? manifest.devDependencies?.taskrt;
  if (!spec?.startsWith("file:") || !/\.(tgz|tar\.gz)$/.test(spec)) return undefined;
  const tarball = path.resolve(project, spec.slice("file:".length));
  return existsSync(tarball) ? tarball : undefined;
}
