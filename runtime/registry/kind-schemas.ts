/**
 * @module registry/kind-schemas — the schema set a kinds table is validated against: `schemas/`, plus
 * the schemas that kinds from outside taskrt carry in their definitions.
 */
import type { KindDefinition } from "../contracts/kind-definition.ts";
import { projectSchemas, SchemaSet, type JsonSchema } from "./schemas.ts";

const sets = new WeakMap<readonly KindDefinition[], SchemaSet>();

/** `schemas/` alone when no kind carries a schema; otherwise one set with theirs added, built once per kinds list. */
export function kindSchemaSet(kinds: readonly KindDefinition[] = []): SchemaSet {
  const carried = kinds.filter((definition) => definition.schema !== undefined);
  if (carried.length === 0) return projectSchemas();
  let set = sets.get(kinds);
  if (!set) {
    const builtIn = projectSchemas().schemas;
    const schemas = new Map(builtIn);
    for (const definition of carried) schemas.set(definition.kind, entrySchema(definition));
    set = new SchemaSet(schemas, new Set([...builtIn.keys()].filter((name) => schemas.get(name) === builtIn.get(name))));
    sets.set(kinds, set);
  }
  return set;
}

/**
 * A carried schema as the built-in ones are written: `name`, `kind` and `meta` (and a service's
 * `lifecycle`) declared when it leaves them out, and an `$id` beside taskrt's schemas, so
 * `$ref: "lifecycle.json"` resolves there.
 */
export function entrySchema({ kind, schema = {}, service }: KindDefinition): JsonSchema {
  return {
    title: kind,
    ...schema,
    $id: `https://taskrt.dev/schemas/${kind}.json`,
    type: "object",
    properties: {
      name: { type: "string", minLength: 1, pattern: "^[A-Za-z0-9_.\\-]+$", description: "Entry name; the id is namespace:name." },
      kind: { const: kind },
      meta: { type: "object", description: "Free-form metadata (title, comment, …); file-level meta is merged in." },
      ...(service ? { lifecycle: { $ref: "lifecycle.json", default: {} } } : {}),
      ...schema.properties,
    },
    required: [...new Set(["name", "kind", ...(schema.required ?? [])])],
  };
}
