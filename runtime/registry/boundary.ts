/**
 * @module registry/boundary — the project root that registry files and `file://` paths may not
 * leave, checked on real paths, so a symbolic link cannot lead a path out of it.
 */
import type { Stats } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";

export const LOCK_FILE = "wippy.lock";

export const LINK_HINT = "a symbolic link leads out of the project: copy the file into the project, or point the link inside it";

export interface Boundary {
  /** As messages name it. */
  root: string;
  /** With every symbolic link resolved. */
  real: string;
}

/**
 * How far `file://` may reach: the directory of `wippy.lock` when the registry has one, else the
 * enclosing package (nearest folder with package.json), so a registry in `examples/x/` can use the
 * handlers in `app/`; without either, the registry's own directory.
 */
export async function projectBoundary(registryRoot: string): Promise<Boundary> {
  let root = registryRoot;
  if (!(await exists(join(registryRoot, LOCK_FILE)))) root = (await enclosingPackage(registryRoot)) ?? registryRoot;
  return { root, real: await realLocation(root) };
}

/** The nearest directory at or above `directory` holding a package.json. */
export async function enclosingPackage(directory: string): Promise<string | undefined> {
  for (let current = directory; ; current = dirname(current)) {
    if (await exists(join(current, "package.json"))) return current;
    if (dirname(current) === current) return undefined;
  }
}

/** The directory a registry path stands for: itself when it is a directory, else the file's directory. */
export async function registryDirectory(path: string): Promise<string> {
  const isDirectory = await stat(path).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
  return isDirectory ? path : dirname(path);
}

/** The real path of a file outside the boundary, or undefined when it is inside (links followed). */
export async function realPathOutside(boundary: Boundary, path: string): Promise<string | undefined> {
  const real = await realLocation(path);
  return isInside(boundary.real, real) ? undefined : real;
}

/**
 * Where a path really leads: symbolic links resolved in its longest existing part, the rest (a file
 * not created yet) appended, so a missing file under a linked directory is judged by the link's target.
 */
export async function realLocation(path: string): Promise<string> {
  const missing: string[] = [];
  for (let current = path; ; current = dirname(current)) {
    try {
      return join(await realpath(current), ...missing);
    } catch {
      if (dirname(current) === current) return path;
      missing.unshift(basename(current));
    }
  }
}

export function isInside(root: string, path: string): boolean {
  const inside = relative(root, path);
  return inside !== ".." && !inside.startsWith(`..${sep}`) && !isAbsolute(inside);
}

/** What sort of file a stat describes, as messages name it. */
export function fileType(stats: Stats): string {
  if (stats.isFile()) return "a regular file";
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO (named pipe)";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isSocket()) return "a socket";
  return "not a regular file";
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
