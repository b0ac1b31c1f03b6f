/**
 * @module registry/load — reads registry YAML files into entries that remember where every field was
 * written, reporting every syntax and shape problem found rather than stopping at the first.
 */
import { constants } from "node:fs";
import { open, readdir, stat } from "node:fs/promises";
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from "yaml";
import { errorMessage, PROBLEM_CODES, type Problem, type SourceLocation } from "../errors.ts";
import type { Entry, FieldPath, Registry } from "./entry.ts";
import { fieldName } from "./graph.ts";

export interface LoadResult {
  registry: Registry;
  problems: Problem[];
}

export const LOCK_FILE = "wippy.lock";
/** Dotted identifiers: `app`, `app.api`, `app.api.v2`. */
export const NAMESPACE_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$/;
/** Keys of a single-entry file that describe the file, not the entry. */
const FILE_KEYS = new Set(["version", "namespace"]);
/**
 * How many nodes aliases may expand to, counted as the `yaml` package does (uses of an anchor times
 * the aliases inside it): reusing a plain anchor is free, nesting aliases of aliases (a "billion
 * laughs" file) is refused before it eats the memory.
 */
export const MAX_ALIAS_COUNT = 100;

/** The source of one entry: enough of the parsed document to point back at any field. */
interface EntrySource {
  file: string;
  lineCounter: LineCounter;
  document: Document;
  node: Node;
  /** Present when the entry wrote its data under an explicit `data:` key. */
  dataForm: boolean;
  fileMeta?: Node;
}

class LoadedEntry implements Entry {
  id: string;
  meta: Record<string, unknown>;
  data: Record<string, unknown>;
  location: SourceLocation;

  constructor(
    readonly namespace: string,
    readonly name: string,
    public kind: string,
    meta: Record<string, unknown>,
    data: Record<string, unknown>,
    private readonly source: EntrySource,
  ) {
    this.id = `${namespace}:${name}`;
    this.meta = meta;
    this.data = data;
    this.location = this.at(walk(source, source.node, ["name"]).offset ?? source.node.range?.[0] ?? 0);
  }

  get file(): string {
    return this.source.file;
  }

  locate(path: FieldPath): SourceLocation {
    const [head, ...rest] = path;
    if (head === "meta") {
      const own = walk(this.source, this.source.node, path);
      if (own.complete || !this.source.fileMeta) return this.at(own.offset);
      const inherited = walk(this.source, this.source.fileMeta, rest);
      return this.at(inherited.complete ? inherited.offset : own.offset);
    }
    const written = this.source.dataForm && head !== "name" && head !== "kind" ? ["data", ...path] : path;
    return this.at(walk(this.source, this.source.node, written).offset);
  }

  private at(offset: number | undefined): SourceLocation {
    if (offset === undefined) return this.location;
    const { line, col } = this.source.lineCounter.linePos(offset);
    return { file: this.source.file, line, column: col };
  }
}

/** Follows a field path through the YAML nodes; `offset` is the deepest key (or list item) found. */
function walk(source: EntrySource, start: Node, path: FieldPath): { offset?: number; complete: boolean } {
  let node: unknown = start;
  let offset: number | undefined;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(source.document);
    if (isMap(node)) {
      const pair = findPair(source, node, String(segment));
      if (!pair) return { offset, complete: false };
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && Number.isInteger(Number(segment))) {
      const item = node.items[Number(segment)] as Node | undefined;
      if (!item) return { offset, complete: false };
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      return { offset, complete: false };
    }
  }
  return { offset, complete: true };
}

/** The pair of a map holding a key, written there or brought in by a `<<` merge key (written keys win, then earlier merges). */
function findPair(source: EntrySource, map: Node, key: string, depth = 0): { key: unknown; value: unknown } | undefined {
  if (!isMap(map) || depth > 16) return undefined;
  const own = map.items.find((item) => isScalar(item.key) && !isMergeKey(item.key) && String(item.key.value) === key);
  if (own) return own;
  for (const item of map.items) {
    if (!isMergeKey(item.key)) continue;
    let merged: unknown = isAlias(item.value) ? item.value.resolve(source.document) : item.value;
    const sources = isSeq(merged) ? merged.items : [merged];
    for (let each of sources) {
      if (isAlias(each)) each = each.resolve(source.document);
      const found = findPair(source, each as Node, key, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  const value = key.value;
  return typeof value === "symbol" ? value.description === "<<" : value === "<<";
}

/** Loads a registry from a YAML file, a directory of them, or a project directory holding `wippy.lock`. */
export async function loadRegistry(path: string): Promise<LoadResult> {
  const problems: Problem[] = [];
  const target = resolve(path);
  const { root, files, explicit } = await findFiles(target, problems);
  const registry: Registry = { root, entries: [], byId: new Map() };
  const boundary = await fileBoundary(root);
  let registryFiles = 0;
  for (const file of files) {
    const loaded = await loadFile(file, boundary, explicit, problems);
    if (loaded) registryFiles++;
    for (const entry of loaded ?? []) {
      const first = registry.byId.get(entry.id);
      if (first) {
        problems.push({
          code: PROBLEM_CODES.DUPLICATE_ID,
          severity: "error",
          entryId: entry.id,
          location: entry.location,
          message: `duplicate id ${entry.id}: already declared at ${shortPath(root, first.file)}:${first.location.line}:${first.location.column}`,
          hint: "rename one of the two entries: ids (namespace:name) must be unique",
        });
        continue;
      }
      registry.byId.set(entry.id, entry);
      registry.entries.push(entry);
    }
  }
  if (!explicit && registryFiles === 0 && problems.length === 0) {
    problems.push(fileProblem(`no registry files found under ${target}`, "registry files are .yaml/.yml files with a top-level namespace"));
  }
  return { registry, problems };
}

/**
 * How far `file://` may reach: the directory of `wippy.lock` when the registry has one, else the
 * enclosing package (nearest folder with package.json), so a registry in `examples/x/` can use the
 * handlers in `app/`; without either, the registry's own directory.
 */
async function fileBoundary(root: string): Promise<string> {
  if (await exists(join(root, LOCK_FILE))) return root;
  for (let directory = root; ; directory = dirname(directory)) {
    if (await exists(join(directory, "package.json"))) return directory;
    if (dirname(directory) === directory) return root;
  }
}

async function findFiles(target: string, problems: Problem[]): Promise<{ root: string; files: string[]; explicit: boolean }> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(target)).isDirectory();
  } catch (error) {
    problems.push(fileProblem(`cannot read ${target}: ${readError(error)}`, "give an _index.yaml, a directory of registry files, or a project directory holding wippy.lock"));
    return { root: dirname(target), files: [], explicit: true };
  }
  if (!isDirectory && basename(target) !== LOCK_FILE) return { root: dirname(target), files: [target], explicit: true };
  const root = isDirectory ? target : dirname(target);
  const lock = join(root, LOCK_FILE);
  const source = (await exists(lock)) ? await lockSourceDirectory(lock, problems) : root;
  if (source === undefined) return { root, files: [], explicit: false };
  const files: string[] = [];
  await walkDirectory(source, files, problems);
  return { root, files, explicit: false };
}

/** `directories.src` of the lock, relative to it; the lock's own directory when it names none. */
async function lockSourceDirectory(lock: string, problems: Problem[]): Promise<string | undefined> {
  const parsed = await readYaml(lock, problems);
  if (!parsed) return undefined;
  const { document, lineCounter } = parsed;
  const source = document.getIn(["directories", "src"]);
  if (source === undefined || source === null) return dirname(lock);
  const { line, col } = lineCounter.linePos((document.getIn(["directories", "src"], true) as Node).range?.[0] ?? 0);
  const location = { file: lock, line, column: col };
  if (typeof source !== "string" || source === "") {
    problems.push({ ...fileProblem(`directories.src must be a directory path, found ${describe(source)}`), location });
    return undefined;
  }
  const directory = resolve(dirname(lock), source);
  if (!(await exists(directory))) {
    problems.push({ ...fileProblem(`directories.src names ${directory}, which does not exist`, "create it or correct directories.src"), location });
    return undefined;
  }
  return directory;
}

/** Every .yaml/.yml file below a directory, sorted, skipping node_modules and dot-entries. */
async function walkDirectory(directory: string, files: string[], problems: Problem[]): Promise<void> {
  let children;
  try {
    children = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    problems.push(fileProblem(`cannot read directory ${directory}: ${readError(error)}`));
    return;
  }
  children.sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0));
  for (const child of children) {
    if (child.name.startsWith(".") || child.name === "node_modules") continue;
    const path = join(directory, child.name);
    if (child.isDirectory()) await walkDirectory(path, files, problems);
    else if ((child.isFile() || child.isSymbolicLink()) && [".yaml", ".yml"].includes(extname(child.name))) files.push(path);
  }
}

/**
 * Parses one file into entries; undefined when it is not a registry file or cannot be read. Files without
 * a namespace are not registry files: skipped silently unless named explicitly.
 */
async function loadFile(file: string, boundary: string, explicit: boolean, problems: Problem[]): Promise<LoadedEntry[] | undefined> {
  const parsed = await readYaml(file, problems);
  if (!parsed) return undefined;
  const { document, lineCounter } = parsed;
  const contents = document.contents;
  const at = (node: Node | null | undefined): SourceLocation => {
    const { line, col } = lineCounter.linePos(node?.range?.[0] ?? 0);
    return { file, line: Math.max(line, 1), column: col };
  };
  const shape = (node: Node | null | undefined, message: string, hint?: string): void => {
    problems.push({ code: PROBLEM_CODES.ENTRY_SHAPE, severity: "error", location: at(node), message, hint });
  };
  const top = parsed.value;
  if (!isMap(contents) || !isPlainObject(top) || top.namespace === undefined) {
    if (explicit) shape(contents, "not a registry file: it has no top-level namespace", "start the file with `namespace: app` and an `entries:` list");
    return undefined;
  }
  const namespace = top.namespace;
  if (typeof namespace !== "string" || !NAMESPACE_PATTERN.test(namespace)) {
    shape(contents.get("namespace", true) as Node, `namespace must be a dotted identifier such as app or app.api, found ${JSON.stringify(namespace)}`);
    return undefined;
  }
  const base = { file, lineCounter, document };
  const entries: LoadedEntry[] = [];
  const add = (raw: unknown, node: Node, label: string, fileMeta: { value: Record<string, unknown>; node?: Node }): void => {
    const built = buildEntry(raw, node, label, namespace, fileMeta, base, shape);
    if (built) {
      resolveFileReferences(built, boundary, problems);
      entries.push(built);
    }
  };
  if (top.entries !== undefined) {
    const list = contents.get("entries", true) as Node;
    if (!Array.isArray(top.entries) || !isSeq(list)) {
      shape(list, `entries must be a list of entries, found ${describe(top.entries)}`);
      return undefined;
    }
    const fileMetaNode = contents.get("meta", true) as Node | undefined;
    if (top.meta !== undefined && !isPlainObject(top.meta)) {
      shape(fileMetaNode, `meta must be a map, found ${describe(top.meta)}`);
      return undefined;
    }
    const fileMeta = { value: (top.meta ?? {}) as Record<string, unknown>, node: fileMetaNode };
    top.entries.forEach((raw, index) => {
      let node = list.items[index] as Node;
      if (isAlias(node)) node = node.resolve(document) as Node;
      add(raw, node, `entries[${index}]`, fileMeta);
    });
  } else if (top.name !== undefined || top.kind !== undefined) {
    const single = Object.fromEntries(Object.entries(top).filter(([key]) => !FILE_KEYS.has(key)));
    add(single, contents, "entry", { value: {} });
  } else {
    shape(contents, "file has a namespace but neither an entries list nor a single entry (name and kind)", "add `entries:` with a list of entries");
  }
  return entries;
}

function buildEntry(
  raw: unknown,
  node: Node,
  label: string,
  namespace: string,
  fileMeta: { value: Record<string, unknown>; node?: Node },
  base: Pick<EntrySource, "file" | "lineCounter" | "document">,
  shape: (node: Node | null | undefined, message: string, hint?: string) => void,
): LoadedEntry | undefined {
  if (!isPlainObject(raw) || !isMap(node)) {
    shape(node, `${label}: an entry must be a map with name and kind, found ${describe(raw)}`);
    return undefined;
  }
  for (const key of ["name", "kind"] as const) {
    if (typeof raw[key] !== "string" || raw[key] === "") {
      const found = raw[key] === undefined ? "" : `, found ${describe(raw[key])}`;
      shape((node.get(key, true) as Node | undefined) ?? node, `${label}: ${key} is required: a non-empty string${found}`);
      return undefined;
    }
  }
  for (const key of ["meta", "data"] as const) {
    if (raw[key] !== undefined && !isPlainObject(raw[key])) {
      shape(node.get(key, true) as Node, `${label} (${namespace}:${raw.name}): ${key} must be a map, found ${describe(raw[key])}`);
      return undefined;
    }
  }
  const dataForm = raw.data !== undefined;
  const data = dataForm
    ? (raw.data as Record<string, unknown>)
    : Object.fromEntries(Object.entries(raw).filter(([key]) => key !== "name" && key !== "kind" && key !== "meta"));
  // Cloned so that YAML aliases shared by several entries do not share defaults or overrides.
  const meta = structuredClone({ ...fileMeta.value, ...((raw.meta as Record<string, unknown> | undefined) ?? {}) });
  const source: EntrySource = { ...base, node, dataForm, fileMeta: fileMeta.node };
  return new LoadedEntry(namespace, raw.name as string, raw.kind as string, meta, structuredClone(data), source);
}

/**
 * Rewrites `file://relative` strings anywhere in the data to `file:///absolute`, relative to the YAML
 * file's directory. Absolute `file:///x` paths are kept. Either way the path may not leave the root.
 * The files themselves are not read here: the kinds that use them do, and validation reports missing ones.
 */
function resolveFileReferences(entry: LoadedEntry, root: string, problems: Problem[]): void {
  const visit = (value: unknown, path: (string | number)[], assign: (next: string) => void): void => {
    if (typeof value === "string") {
      if (!value.startsWith("file://")) return;
      const written = value.slice("file://".length);
      const field = fieldName(path);
      const problem = (code: Problem["code"], message: string, hint: string): void => {
        problems.push({ code, severity: "error", entryId: entry.id, field, location: entry.locate(path), message, hint });
      };
      if (written === "") return problem(PROBLEM_CODES.FILE, `${field}: file:// names no file`, "write file://path/relative/to/this/yaml");
      const absolute = resolve(dirname(entry.file), written);
      if (!isInside(root, absolute)) {
        return problem(PROBLEM_CODES.PATH_ESCAPE, `${field}: ${value} leaves the project root ${root}`, "keep referenced files inside the project directory");
      }
      assign(`file://${absolute}`);
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => visit(item, [...path, index], (next) => (value[index] = next)));
    } else if (isPlainObject(value)) {
      for (const [key, item] of Object.entries(value)) visit(item, [...path, key], (next) => (value[key] = next));
    }
  };
  visit(entry.data, [], () => undefined);
}

/**
 * Reads and parses one YAML file, keeping positions, merge keys (`<<: *base`) applied; read and
 * syntax errors (all of them) become problems, and so does an alias expansion past MAX_ALIAS_COUNT.
 */
async function readYaml(file: string, problems: Problem[]): Promise<{ document: Document; lineCounter: LineCounter; value: unknown } | undefined> {
  const text = await readRegularFile(file, problems);
  if (text === undefined) return undefined;
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, merge: true });
  const at = (offset: number | undefined): SourceLocation => {
    const { line, col } = lineCounter.linePos(offset ?? 0);
    return { file, line: Math.max(line, 1), column: col };
  };
  if (document.errors.length > 0) {
    for (const error of document.errors) problems.push({ code: PROBLEM_CODES.YAML, severity: "error", location: at(error.pos[0]), message: `YAML syntax: ${error.message}` });
    return undefined;
  }
  try {
    return { document, lineCounter, value: document.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown };
  } catch (error) {
    // The yaml package throws without a position: point at the first alias or merge key, whichever the error is about.
    const aliases = /alias count/i.test(errorMessage(error));
    const message = aliases
      ? `YAML aliases expand to more than ${MAX_ALIAS_COUNT} nodes (nested aliases of aliases): refused, as such a file can exhaust memory`
      : `YAML: ${errorMessage(error)}`;
    const hint = aliases ? "write the repeated values out, or alias the data itself rather than lists of aliases" : "a merge key takes a map or a list of maps: <<: *base";
    problems.push({ code: PROBLEM_CODES.YAML, severity: "error", location: at(firstNode(document, aliases ? "alias" : "merge")), message, hint });
    return undefined;
  }
}

/** Offset of the first alias, or of the first `<<` merge key, in document order. */
function firstNode(document: Document, what: "alias" | "merge"): number | undefined {
  let offset: number | undefined;
  visit(document, {
    Alias(_key, node) {
      if (what !== "alias") return undefined;
      offset = node.range?.[0];
      return visit.BREAK;
    },
    Pair(_key, pair) {
      if (what !== "merge" || !isPair(pair) || !isMergeKey(pair.key)) return undefined;
      offset = (pair.key as Node).range?.[0];
      return visit.BREAK;
    },
  });
  return offset;
}

/**
 * A file's text, refusing anything but a regular file: opening a FIFO would wait for a writer and
 * reading a device may never end. Opened non-blocking and checked on the open handle, so the check
 * and the read see the same file.
 */
async function readRegularFile(file: string, problems: Problem[]): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    problems.push(fileProblem(`cannot read ${file}: ${readError(error)}`));
    return undefined;
  }
  try {
    const type = fileType(await handle.stat());
    if (type !== "a regular file") {
      problems.push({
        ...fileProblem(`cannot read ${file}: it is ${type}, not a regular file`, "registry files are plain .yaml/.yml files"),
        location: { file, line: 1, column: 1 },
      });
      return undefined;
    }
    return await handle.readFile("utf8");
  } catch (error) {
    problems.push(fileProblem(`cannot read ${file}: ${readError(error)}`));
    return undefined;
  } finally {
    await handle.close();
  }
}

/** What sort of file a stat describes, as messages name it. */
export function fileType(stats: import("node:fs").Stats): string {
  if (stats.isFile()) return "a regular file";
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO (named pipe)";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isSocket()) return "a socket";
  return "not a regular file";
}

function readError(error: unknown): string {
  return (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : errorMessage(error);
}

function fileProblem(message: string, hint?: string): Problem {
  return { code: PROBLEM_CODES.FILE, severity: "error", message, hint };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A value as a message quotes it: short, and saying what sort of thing it is. */
export function describe(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (isPlainObject(value)) return "a map";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** A file path as messages show it: relative to the project root when inside it. */
export function shortPath(root: string, file: string): string {
  return isInside(root, file) ? relative(root, file) : file;
}

function isInside(root: string, path: string): boolean {
  const inside = relative(root, path);
  return inside !== ".." && !inside.startsWith(`..${sep}`) && !isAbsolute(inside);
}
