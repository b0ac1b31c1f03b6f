/**
 * @module registry/overrides — applies launch-time `-o namespace:name:path=value` overrides to loaded
 * entries, before validation, so overridden values are checked like written ones.
 */
import { parseDocument } from "yaml";
import { PROBLEM_CODES, type Problem } from "../errors.ts";
import type { Registry } from "./entry.ts";
import { describe } from "./load.ts";
import { didYouMean } from "./suggest.ts";
import { MAX_ALIAS_COUNT } from "./yaml-file.ts";

export interface ParsedOverride {
  entryId: string;
  /** Where the value goes: `kind`, or a path starting with `meta` or `data`. */
  target: "kind" | "meta" | "data";
  /** Field path inside `meta` or `data` (empty for `kind`). */
  path: string[];
  value: unknown;
}

const FORM = "expected namespace:name:field=value, e.g. -o app:gateway:addr=:8080 or -o app:db:lifecycle.auto_start=false";
/** Names that reach into JavaScript's object machinery rather than a field: writing them could change every object of the process. */
const RESERVED_SEGMENTS = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Splits `<namespace>:<name>:<path>=<value>`. The id ends at the second `:` (names may hold dots but
 * not colons); the value is everything after the first `=` and may hold `:` and `=` itself.
 */
export function parseOverride(text: string): ParsedOverride | { error: string } {
  const equals = text.indexOf("=");
  if (equals < 0) return { error: `no "=": ${FORM}` };
  const left = text.slice(0, equals);
  const first = left.indexOf(":");
  const second = first < 0 ? -1 : left.indexOf(":", first + 1);
  if (second < 0) return { error: FORM };
  const namespace = left.slice(0, first);
  const name = left.slice(first + 1, second);
  const segments = left.slice(second + 1).split(".");
  if (namespace === "" || name === "") return { error: `empty namespace or name: ${FORM}` };
  if (segments.some((segment) => segment === "")) return { error: `empty field name in "${left.slice(second + 1)}": ${FORM}` };
  const reserved = segments.find((segment) => RESERVED_SEGMENTS.has(segment));
  if (reserved !== undefined) return { error: `"${reserved}" cannot be overridden: it names JavaScript object internals, not a registry field` };
  const entryId = `${namespace}:${name}`;
  const value = parseScalar(text.slice(equals + 1));
  const [head, ...rest] = segments;
  if (head === "name") return { error: "the name cannot be overridden: it is part of the id" };
  if (head === "kind") {
    if (rest.length > 0) return { error: "kind is a string and has no fields" };
    return { entryId, target: "kind", path: [], value };
  }
  if (head === "meta" || head === "data") {
    if (rest.length === 0) return { error: `name a field of ${head}, e.g. ${head}.title` };
    return { entryId, target: head, path: rest, value };
  }
  return { entryId, target: "data", path: segments, value };
}

/**
 * The value as a YAML scalar: `8080` is a number, `true` a boolean, `"x"` and `:18080` strings.
 * Anything that would parse to a map or a list stays the string it was written as.
 */
export function parseScalar(text: string): unknown {
  if (text === "") return "";
  const document = parseDocument(text);
  if (document.errors.length > 0) return text;
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch {
    // An alias bomb, or aliases the yaml package refuses: not a scalar either.
    return text;
  }
  return typeof value === "object" && value !== null ? text : value;
}

/** Applies every override it can; returns one problem per override that names no entry or is malformed. */
export function applyOverrides(registry: Registry, overrides: readonly string[]): Problem[] {
  const problems: Problem[] = [];
  for (const text of overrides) {
    const fail = (message: string, entryId?: string, hint?: string): void => {
      problems.push({ code: PROBLEM_CODES.OVERRIDE, severity: "error", entryId, message: `override -o ${text}: ${message}`, hint });
    };
    const parsed = parseOverride(text);
    if ("error" in parsed) {
      fail(parsed.error);
      continue;
    }
    const entry = registry.byId.get(parsed.entryId);
    if (!entry) {
      fail(`no entry ${parsed.entryId}`, undefined, didYouMean(parsed.entryId, registry.byId.keys(), false));
      continue;
    }
    if (parsed.target === "kind") {
      if (typeof parsed.value !== "string" || parsed.value === "") fail(`kind must be a non-empty string, found ${describe(parsed.value)}`, entry.id);
      else entry.kind = parsed.value;
      continue;
    }
    const error = setPath(parsed.target === "meta" ? entry.meta : entry.data, parsed.path, parsed.value);
    if (error) fail(error, entry.id);
  }
  return problems;
}

/** Sets a nested field, creating maps on the way; refuses to descend into a value that is not a map or list. */
function setPath(root: Record<string, unknown>, path: readonly string[], value: unknown): string | undefined {
  let container: Record<string, unknown> | unknown[] = root;
  for (let index = 0; index < path.length; index++) {
    const segment = path[index];
    const key: string | number = Array.isArray(container) ? Number(segment) : segment;
    if (Array.isArray(container) && !(Number.isInteger(key) && (key as number) >= 0)) {
      return `${path.slice(0, index).join(".")} is a list: "${segment}" is not an index`;
    }
    const slot = container as Record<string | number, unknown>;
    if (index === path.length - 1) {
      slot[key] = value;
      return undefined;
    }
    // Own properties only: an inherited `toString` is not a field of the entry.
    if (!Object.hasOwn(slot, key) || slot[key] === undefined) slot[key] = {};
    const next = slot[key];
    if (typeof next !== "object" || next === null) {
      return `${path.slice(0, index + 1).join(".")} is ${describe(next)}, not a map`;
    }
    container = next as Record<string, unknown> | unknown[];
  }
  return undefined;
}
