/**
 * @module registry/load — reads registry YAML files into entries that remember where every field was
 * written, reporting every syntax and shape problem found rather than stopping at the first.
 */
import { readdir, stat } from "node:fs/promises";
import { basename, dirname, extname, join, relative, resolve } from "node:path";
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from "yaml";
import { PROBLEM_CODES, type Problem, type SourceLocation } from "../errors.ts";
import { exists, isInside, LINK_HINT, LOCK_FILE, projectBoundary, realPathOutside, type Boundary } from "./boundary.ts";
import type { Entry, FieldPath, Registry } from "./entry.ts";
import { filePathFields, resolveFileReferences } from "./file-fields.ts";
import { projectSchemas, type SchemaSet } from "./schemas.ts";
import { fileProblem, isMergeKey, readError, readYaml } from "./yaml-file.ts";

export interface LoadResult {
  registry: Registry;
  problems: Problem[];
}

export { LOCK_FILE } from "./boundary.ts";
/** Dotted identifiers: `app`, `app.api`, `app.api.v2`. */
export const NAMESPACE_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$/;
/** Keys of a single-entry file that describe the file, not the entry. */
const FILE_KEYS = new Set(["version", "namespace"]);

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

/** Loads a registry from a YAML file, a directory of them, or a project directory holding `wippy.lock`. */
export async function loadRegistry(path: string, schemas: SchemaSet = projectSchemas()): Promise<LoadResult> {
  const problems: Problem[] = [];
  const target = resolve(path);
  const { root, boundary, files, explicit } = await findFiles(target, problems);
  const registry: Registry = { root, entries: [], byId: new Map() };
  let registryFiles = 0;
  for (const file of files) {
    const loaded = await loadFile(file, { boundary, explicit, schemas }, problems);
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

async function findFiles(target: string, problems: Problem[]): Promise<{ root: string; boundary: Boundary; files: string[]; explicit: boolean }> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(target)).isDirectory();
  } catch (error) {
    problems.push(fileProblem(`cannot read ${target}: ${readError(error)}`, "give an _index.yaml, a directory of registry files, or a project directory holding wippy.lock"));
    return { root: dirname(target), boundary: { root: dirname(target), real: dirname(target) }, files: [], explicit: true };
  }
  // A file named on the command line is read wherever it leads: the operator chose it.
  if (!isDirectory && basename(target) !== LOCK_FILE) return { root: dirname(target), boundary: await projectBoundary(dirname(target)), files: [target], explicit: true };
  const root = isDirectory ? target : dirname(target);
  const boundary = await projectBoundary(root);
  const lock = join(root, LOCK_FILE);
  const source = (await exists(lock)) ? await lockSourceDirectory(lock, boundary, problems) : root;
  if (source === undefined) return { root, boundary, files: [], explicit: false };
  const files: string[] = [];
  await walkDirectory(source, boundary, files, problems);
  return { root, boundary, files, explicit: false };
}

/**
 * The lock's `modules` are hub packages (`wippy add`), unpacked into `directories.modules`: taskrt
 * has no hub and loads none of them, which each warning says, so an entry of theirs that the
 * registry references is not a mystery.
 */
function hubModuleWarnings(lock: string, document: Document, lineCounter: LineCounter): Problem[] {
  const modules = document.getIn(["modules"], true);
  if (!isSeq(modules)) return [];
  return modules.items.flatMap((item) => {
    const name = isMap(item) ? item.get("name") : undefined;
    if (typeof name !== "string") return [];
    const { line, col } = lineCounter.linePos((item as Node).range?.[0] ?? 0);
    return [
      {
        code: PROBLEM_CODES.HUB_MODULE,
        severity: "warning" as const,
        location: { file: lock, line, column: col },
        message: `hub module ${name} is not supported by taskrt: it installs and loads no hub modules, so the entries ${name} provides do not exist here`,
        hint: "references to its entries will not resolve; provide those entries in the project's own registry files",
      },
    ];
  });
}

/** `directories.src` of the lock, relative to it; the lock's own directory when it names none. */
async function lockSourceDirectory(lock: string, boundary: Boundary, problems: Problem[]): Promise<string | undefined> {
  const parsed = await readYaml(lock, problems);
  if (!parsed) return undefined;
  const { document, lineCounter } = parsed;
  problems.push(...hubModuleWarnings(lock, document, lineCounter));
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
  const real = isInside(boundary.root, directory) ? await realPathOutside(boundary, directory) : directory;
  if (real !== undefined) {
    const message = `directories.src: ${source} ${real === directory ? "is" : "resolves to"} ${real}, outside the project root ${boundary.root}`;
    problems.push({ code: PROBLEM_CODES.PATH_ESCAPE, severity: "error", location, message, hint: real === directory ? "keep the registry files inside the project directory" : LINK_HINT });
    return undefined;
  }
  return directory;
}

/**
 * Every .yaml/.yml file below a directory, sorted, skipping node_modules and dot-entries. A linked
 * file is taken only when it really lies inside the project; linked directories are not followed.
 */
async function walkDirectory(directory: string, boundary: Boundary, files: string[], problems: Problem[]): Promise<void> {
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
    if (child.isDirectory()) await walkDirectory(path, boundary, files, problems);
    else if ((child.isFile() || child.isSymbolicLink()) && [".yaml", ".yml"].includes(extname(child.name))) {
      const real = child.isSymbolicLink() ? await realPathOutside(boundary, path) : undefined;
      if (real === undefined) files.push(path);
      else {
        problems.push({
          code: PROBLEM_CODES.PATH_ESCAPE,
          severity: "error",
          location: { file: path, line: 1, column: 1 },
          message: `registry file ${path} resolves to ${real}, outside the project root ${boundary.root}`,
          hint: LINK_HINT,
        });
      }
    }
  }
}

/**
 * Parses one file into entries; undefined when it is not a registry file or cannot be read. Files without
 * a namespace are not registry files: skipped silently unless named explicitly.
 */
async function loadFile(
  file: string,
  { boundary, explicit, schemas }: { boundary: Boundary; explicit: boolean; schemas: SchemaSet },
  problems: Problem[],
): Promise<LoadedEntry[] | undefined> {
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
    if (built) entries.push(built);
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
  for (const entry of entries) problems.push(...(await resolveFileReferences(entry, filePathFields(schemas, entry.kind), boundary)));
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
