/**
 * @module registry/entry — the shape of a loaded registry: entries with ids, data, meta and the
 * source position of every field, so any later step can point at the exact line.
 */
import type { SourceLocation } from "../errors.ts";

export type FieldPath = readonly (string | number)[];

export interface Entry {
  /** `namespace:name` */
  id: string;
  namespace: string;
  name: string;
  kind: string;
  /** File-level meta merged with the entry's own (entry keys win). */
  meta: Record<string, unknown>;
  /** Every key but name/kind/meta (or the explicit `data:` map). Defaults are filled by validation. */
  data: Record<string, unknown>;
  /** Absolute path of the YAML file that declared the entry. */
  file: string;
  /** Position of the entry itself (its `name` key). */
  location: SourceLocation;
  /**
   * Position of a field, as written by the user. Paths are relative to the entry as the user sees it:
   * `["concurrency"]`, `["meta", "router"]`, `["lifecycle", "depends_on", 0]`. Falls back to the
   * nearest existing parent, then to the entry.
   */
  locate(path: FieldPath): SourceLocation;
}

export interface Registry {
  /** Project root: `file://` paths may not leave it. */
  root: string;
  entries: Entry[];
  byId: Map<string, Entry>;
}

/** A bare name means the referring entry's namespace; a name with `:` is a full id. */
export function resolveId(reference: string, namespace: string): string {
  return reference.includes(":") ? reference : `${namespace}:${reference}`;
}

/** Splits at the first `:`, as Wippy does. */
export function splitId(id: string): { namespace: string; name: string } {
  const colon = id.indexOf(":");
  return colon < 0 ? { namespace: "", name: id } : { namespace: id.slice(0, colon), name: id.slice(colon + 1) };
}

/** `file://` sources are rewritten by the loader to `file:///absolute/path`; anything else is inline code. */
export function sourcePath(source: string): string | undefined {
  return source.startsWith("file://") ? source.slice("file://".length) : undefined;
}
