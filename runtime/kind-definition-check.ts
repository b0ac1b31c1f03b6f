/**
 * @module kind-definition-check — reads the kind definitions a kind module's default export holds,
 * refusing anything that is not one, with what was expected and what was found.
 */
import { TaskrtError } from "./errors.ts";
import type { KindDefinition } from "./contracts/kind-definition.ts";
import { describe } from "./registry/load.ts";

/** Dotted names, as the built-in kinds have: `static.files`, `acme.cache.redis`. */
const KIND_NAME = /^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z][A-Za-z0-9_-]*)+$/;
const DEFINE_HINT = 'write `export default defineKind({ kind, summary, schema, references, service, create })` (defineKind is exported by "taskrt"), or a list of such';

/** The definitions of a module's exports: its default export, one definition or a list of them. */
export function readKindDefinitions(exports: Record<string, unknown>, origin: string): KindDefinition[] {
  const exported = exports.default;
  if (exported === undefined) {
    const named = Object.keys(exports).filter((name) => name !== "default");
    const found = named.length > 0 ? `no default export (its exports: ${named.join(", ")})` : "no default export";
    throw new TaskrtError("E_KIND_MODULE", `kind module ${origin}: expected a default export of kind definitions, found ${found}`, { hint: DEFINE_HINT });
  }
  const items = Array.isArray(exported) ? exported : [exported];
  if (items.length === 0) throw new TaskrtError("E_KIND_MODULE", `kind module ${origin}: its default export is an empty list`, { hint: DEFINE_HINT });
  return items.map((item, index) => {
    const where = Array.isArray(exported) ? `item ${index + 1} of the default export` : "the default export";
    const wrong = definitionProblem(item);
    if (wrong) throw new TaskrtError("E_KIND_MODULE", `kind module ${origin}: ${where} is not a kind definition: ${wrong}`, { hint: DEFINE_HINT });
    return item as KindDefinition;
  });
}

/** What is wrong with a would-be definition, or undefined. */
function definitionProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `expected a map, found ${describe(value)}`;
  const definition = value as Record<string, unknown>;
  if (typeof definition.kind !== "string" || !KIND_NAME.test(definition.kind)) return `kind must be a dotted name such as static.files, found ${describe(definition.kind)}`;
  const { kind } = definition;
  if (typeof definition.summary !== "string" || definition.summary === "") return `${kind}: summary must be a one-line description, found ${describe(definition.summary)}`;
  if (typeof definition.service !== "boolean") return `${kind}: service must be true or false, found ${describe(definition.service)}`;
  if (typeof definition.create !== "function") return `${kind}: create must be a function, found ${describe(definition.create)}`;
  if (definition.check !== undefined && typeof definition.check !== "function") return `${kind}: check must be a function when given, found ${describe(definition.check)}`;
  const references = definition.references;
  if (!Array.isArray(references)) return `${kind}: references must be a list of { path, kinds }, found ${describe(references)}`;
  for (const [index, reference] of references.entries()) {
    const { path, kinds } = (reference ?? {}) as Record<string, unknown>;
    const fine = Array.isArray(path) && path.length > 0 && path.every((part) => typeof part === "string" || typeof part === "number") && Array.isArray(kinds) && kinds.every((item) => typeof item === "string");
    if (!fine) return `${kind}: references[${index}] must be { path: a list of field names, kinds: a list of kind names }, found ${JSON.stringify(reference) ?? String(reference)}`;
  }
  const schema = definition.schema;
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return `${kind}: schema must be the JSON Schema of its entries' fields (a map), found ${describe(schema)}`;
  const type = (schema as Record<string, unknown>).type;
  if (type !== undefined && type !== "object") return `${kind}: schema must describe a map of fields (type "object"), found type ${describe(type)}`;
  return undefined;
}
