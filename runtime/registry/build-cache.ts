/**
 * @module registry/build-cache — remembers what esbuild computed from a handler's sources (its
 * compiled module, its exports and imports), so a start whose sources have not changed neither
 * loads esbuild nor starts its service process.
 *
 * Each record is a small JSON file in the cache folder: a key (the question asked, esbuild's version,
 * the options), the input files with their content hashes, and the answer. It holds while every
 * input still hashes the same; anything else (missing, unreadable, another key) is a miss.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

export interface CacheInput {
  file: string;
  hash: string;
}

interface CacheRecord<T> {
  key: string;
  inputs: CacheInput[];
  value: T;
}

/** How many hits and misses this process has had: tests observe the cache through them. */
export const buildCacheStats = { hits: 0, misses: 0 };

/** Bumped when what a record means changes, so older records are misses. */
const RECORD_FORMAT = 1;

export function contentHash(content: string | Buffer): string {
  return createHash("sha256").update(content).digest("hex").slice(0, 16);
}

let esbuildVersionCache: string | undefined;

/** esbuild's version read from its package.json, without loading esbuild. */
export function esbuildVersion(): string {
  if (esbuildVersionCache === undefined) {
    try {
      const manifest = createRequire(import.meta.url).resolve("esbuild/package.json");
      esbuildVersionCache = String((JSON.parse(readFileSync(manifest, "utf8")) as { version?: unknown }).version);
    } catch {
      esbuildVersionCache = "unknown";
    }
  }
  return esbuildVersionCache;
}

/** The record's file: the handler's name (readable) and a hash of the whole key (unique per question). */
export function recordFile(directory: string, file: string, key: string): string {
  return path.join(directory, `${path.basename(file).replace(/\.[^.]+$/, "")}-${contentHash(key)}.json`);
}

function fullKey(key: string): string {
  return `${RECORD_FORMAT}\0${esbuildVersion()}\0${process.versions.node}\0${key}`;
}

/**
 * The nearest tsconfig.json above `file`, which esbuild reads (paths, decorators, JSX) though its
 * metafile does not list it: an input of every record. (A config it `extends` is not followed.)
 */
export function tsconfigOf(file: string): string[] {
  for (let directory = path.dirname(path.resolve(file)); ; directory = path.dirname(directory)) {
    const candidate = path.join(directory, "tsconfig.json");
    if (isFile(candidate)) return [candidate];
    if (path.dirname(directory) === directory || path.basename(directory) === "node_modules") return [];
  }
}

/** The stored answer when the record exists, has this key, and every input hashes as recorded. */
export function readCached<T>(record: string, key: string): T | undefined {
  let parsed: CacheRecord<T>;
  try {
    parsed = JSON.parse(readFileSync(record, "utf8")) as CacheRecord<T>;
  } catch {
    return undefined;
  }
  if (parsed?.key !== fullKey(key) || !Array.isArray(parsed.inputs) || parsed.inputs.length === 0) return undefined;
  for (const input of parsed.inputs) {
    try {
      if (contentHash(readFileSync(input.file)) !== input.hash) return undefined;
    } catch {
      return undefined;
    }
  }
  return parsed.value;
}

/** Stores `value` with the hashes of `files` (read now); written then renamed, never half a file. */
export function writeCached<T>(record: string, key: string, files: readonly string[], value: T): void {
  try {
    const inputs = files.map((file) => ({ file, hash: contentHash(readFileSync(file)) }));
    const partial = `${record}.${process.pid}.tmp`;
    writeFileSync(partial, JSON.stringify({ key: fullKey(key), inputs, value } satisfies CacheRecord<T>));
    renameSync(partial, record);
  } catch {
    // A cache that cannot be written costs the next start a compile, nothing more.
  }
}

/**
 * `node_modules/.cache/taskrt` in the nearest `node_modules` above `start`, so a compiled file's
 * package imports resolve as the handler's would; a folder in the system's temporary directory
 * when there is none (or it cannot be written), where only `taskrt` and `node:` resolve.
 */
export function cacheDirectory(start: string): string {
  for (let directory = start; ; directory = path.dirname(directory)) {
    const modules = path.join(directory, "node_modules");
    if (isDirectory(modules)) {
      const cache = path.join(modules, ".cache", "taskrt");
      if (makeDirectory(cache)) return cache;
      break;
    }
    if (path.dirname(directory) === directory) break;
  }
  const fallback = path.join(os.tmpdir(), `taskrt-cache-${contentHash(start).slice(0, 12)}`);
  mkdirSync(fallback, { recursive: true });
  return fallback;
}

/**
 * Removes older files named `prefix<hash>suffix` beyond the newest `keep` (by modification time),
 * never `current`. Another process may still use one it just wrote: only files older than a minute go.
 */
export function pruneOlder(directory: string, prefix: string, suffix: string, current: string, keep: number): void {
  let names: string[];
  try {
    names = readdirSync(directory).filter((name) => name.startsWith(prefix) && name.endsWith(suffix) && /^[0-9a-f]{16}$/.test(name.slice(prefix.length, -suffix.length)));
  } catch {
    return;
  }
  const dated = names
    .map((name) => ({ file: path.join(directory, name), mtime: modifiedAt(path.join(directory, name)) }))
    .filter((candidate) => candidate.file !== current)
    .sort((left, right) => right.mtime - left.mtime);
  const minuteAgo = Date.now() - 60_000;
  for (const stale of dated.slice(Math.max(0, keep - 1))) if (stale.mtime < minuteAgo) rmSync(stale.file, { force: true });
}

function modifiedAt(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}

function makeDirectory(directory: string): boolean {
  try {
    mkdirSync(directory, { recursive: true });
    return true;
  } catch {
    return false;
  }
}
