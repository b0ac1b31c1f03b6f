/**
 * @module registry/env-placeholders — replaces `${env:NAME}` and `${env:NAME|default}` in every
 * string field of an entry with the environment's value, before its schema is checked.
 *
 * A field that is one placeholder and nothing else, where the schema wants a number or true/false,
 * takes the value as that type (`port: ${env:PORT|8080}` is the integer 8080): YAML would have read
 * the value so had it been written in place. Everywhere else the result stays text. `$${` writes a
 * literal `${`. Fields a kind resolves itself when it starts (credentials, read fresh at each
 * connect and kept out of `inspect`) are left as written.
 */
import { PROBLEM_CODES, type Problem } from "../errors.ts";
import type { Entry, FieldPath } from "./entry.ts";
import { fieldName } from "./graph.ts";
import type { JsonSchema, SchemaSet } from "./schemas.ts";
import { expandEnvironment, type Environment } from "../environment-text.ts";

export type { Environment };

const WHOLE_PLACEHOLDER = /^\$\{env:[A-Za-z_][A-Za-z0-9_]*(?:\|[^}]*)?\}$/;
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?$/;

/** Expands the placeholders of `entry.data` in place; one problem per variable that is unset and has no default. */
export function expandEntryPlaceholders(entry: Entry, schemas: SchemaSet, resolvedAtStart: readonly FieldPath[], environment: Environment = process.env): Problem[] {
  const problems: Problem[] = [];
  const deferred = (path: FieldPath) => resolvedAtStart.some((prefix) => prefix.every((segment, index) => path[index] === segment));
  const visit = (holder: Record<string | number, unknown>, key: string | number, path: (string | number)[]): void => {
    const value = holder[key];
    if (typeof value === "string") {
      if (!value.includes("${") || deferred(path)) return;
      const missing: string[] = [];
      const text = expandEnvironment(value, environment, (name) => {
        missing.push(name);
        return `\${env:${name}}`;
      });
      for (const name of missing) problems.push(unsetVariable(entry, path, name));
      if (missing.length === 0) holder[key] = WHOLE_PLACEHOLDER.test(value) ? typed(text, schemaAt(schemas, entry.kind, path)) : text;
    } else if (Array.isArray(value)) {
      value.forEach((_, index) => visit(value as unknown as Record<number, unknown>, index, [...path, index]));
    } else if (value && typeof value === "object") {
      for (const name of Object.keys(value)) visit(value as Record<string, unknown>, name, [...path, name]);
    }
  };
  for (const name of Object.keys(entry.data)) visit(entry.data, name, [name]);
  return problems;
}

function unsetVariable(entry: Entry, path: FieldPath, name: string): Problem {
  return {
    code: PROBLEM_CODES.ENV_UNSET,
    severity: "error",
    entryId: entry.id,
    field: fieldName(path),
    location: entry.locate(path),
    message: `${fieldName(path)} uses \${env:${name}}, but ${name} is not set`,
    hint: `set ${name}, or give a default: \${env:${name}|value}`,
  };
}

/** The number or boolean `text` spells when the schema wants one, else `text`. */
function typed(text: string, schema: JsonSchema | undefined): unknown {
  const types = new Set([schema?.type, ...(schema?.anyOf ?? []).map((option) => option.type)].flat().filter(Boolean));
  if ((types.has("integer") || types.has("number")) && NUMBER.test(text)) return Number(text);
  if (types.has("boolean") && (text === "true" || text === "false")) return text === "true";
  return text;
}

/** The schema of the field at `path` in an entry of `kind`, following `$ref`s; undefined where none is declared. */
function schemaAt(schemas: SchemaSet, kind: string, path: FieldPath): JsonSchema | undefined {
  const root = schemas.kind(kind);
  if (!root) return undefined;
  let current = schemas.resolve(root, kind);
  for (const segment of path) {
    const next = typeof segment === "number" ? current.schema.items : current.schema.properties?.[segment];
    if (!next) return undefined;
    current = schemas.resolve(next, current.owner);
  }
  return current.schema;
}
