/**
 * @module registry/file-fields — resolves the `file://` paths an entry writes in the fields its
 * kind's schema marks `filePath: true`, keeping them inside the project root. A `file://` string
 * anywhere else (a schedule's message body) is data, and stays as written.
 */
import { stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { PROBLEM_CODES, type Problem } from "../errors.ts";
import { fileType, isInside, LINK_HINT, realPathOutside, type Boundary } from "./boundary.ts";
import type { Entry, FieldPath } from "./entry.ts";
import { fieldName } from "./graph.ts";
import type { JsonSchema, SchemaSet } from "./schemas.ts";

/** Matches any key of a map (`additionalProperties`) or any index of a list (`items`). */
export const ANY = "*";

const cache = new WeakMap<SchemaSet, Map<string, readonly FieldPath[]>>();

/** Paths (relative to the entry's data, `*` for any key or index) of the fields marked `filePath`. */
export function filePathFields(schemas: SchemaSet, kind: string): readonly FieldPath[] {
  let byKind = cache.get(schemas);
  if (!byKind) cache.set(schemas, (byKind = new Map()));
  const cached = byKind.get(kind);
  if (cached) return cached;
  const schema = schemas.kind(kind);
  const fields: FieldPath[] = [];
  if (schema) collect(schemas, schema, kind, [], fields);
  byKind.set(kind, fields);
  return fields;
}

function collect(schemas: SchemaSet, written: JsonSchema, owner: string, path: (string | number)[], fields: FieldPath[]): void {
  // Deep enough for every kind's schema; a bound, so a schema that refers to itself cannot loop.
  if (path.length > 8) return;
  const { schema, owner: resolvedOwner } = schemas.resolve(written, owner);
  if (written.filePath === true || schema.filePath === true) {
    fields.push(path);
    return;
  }
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    if (path.length === 0 && (key === "name" || key === "kind" || key === "meta")) continue;
    collect(schemas, property, resolvedOwner, [...path, key], fields);
  }
  const additional = schema.additionalProperties;
  if (typeof additional === "object" && additional !== null) collect(schemas, additional as JsonSchema, resolvedOwner, [...path, ANY], fields);
  if (schema.items) collect(schemas, schema.items, resolvedOwner, [...path, ANY], fields);
}

/** Each string an entry's data holds at a field path, with its concrete path and a setter. */
export function valuesAt(data: Record<string, unknown>, pattern: FieldPath): { path: (string | number)[]; value: string; set(next: string): void }[] {
  const found: { path: (string | number)[]; value: string; set(next: string): void }[] = [];
  const visit = (container: unknown, depth: number, path: (string | number)[]): void => {
    if (typeof container !== "object" || container === null) return;
    const segment = pattern[depth];
    const keys: (string | number)[] = segment !== ANY ? [segment] : Array.isArray(container) ? container.map((_item, index) => index) : Object.keys(container);
    for (const key of keys) {
      if (!Object.hasOwn(container, key)) continue;
      const slot = container as Record<string | number, unknown>;
      const value = slot[key];
      if (depth < pattern.length - 1) visit(value, depth + 1, [...path, key]);
      else if (typeof value === "string") found.push({ path: [...path, key], value, set: (next) => (slot[key] = next) });
    }
  };
  if (pattern.length > 0) visit(data, 0, []);
  return found;
}

/**
 * Rewrites `file://relative` to `file:///absolute`, relative to the YAML file's directory; absolute
 * `file:///x` paths are kept. Either way the path, followed through symbolic links, may not leave the
 * project root, and an existing file must be a regular one. Missing files are the kinds' to report.
 */
export async function resolveFileReferences(entry: Entry, fields: readonly FieldPath[], boundary: Boundary): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const pattern of fields) {
    for (const { path, value, set } of valuesAt(entry.data, pattern)) {
      if (!value.startsWith("file://")) continue;
      const field = fieldName(path);
      const problem = (code: Problem["code"], message: string, hint: string): void => {
        problems.push({ code, severity: "error", entryId: entry.id, field, location: entry.locate(path), message, hint });
      };
      const written = value.slice("file://".length);
      if (written === "") {
        problem(PROBLEM_CODES.FILE, `${field}: file:// names no file`, "write file://path/relative/to/this/yaml");
        continue;
      }
      const absolute = resolve(dirname(entry.file), written);
      if (!isInside(boundary.root, absolute)) {
        problem(PROBLEM_CODES.PATH_ESCAPE, `${field}: ${value} leaves the project root ${boundary.root}`, "keep referenced files inside the project directory");
        continue;
      }
      const real = await realPathOutside(boundary, absolute);
      if (real !== undefined) {
        problem(PROBLEM_CODES.PATH_ESCAPE, `${field}: ${value} resolves to ${real}, outside the project root ${boundary.root}`, LINK_HINT);
        continue;
      }
      const stats = await stat(absolute).catch(() => undefined);
      if (stats && !stats.isFile()) {
        problem(PROBLEM_CODES.FILE, `${field}: ${value} is ${fileType(stats)}, not a regular file`, "name a file");
        continue;
      }
      set(`file://${absolute}`);
    }
  }
  return problems;
}
