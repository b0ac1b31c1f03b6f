/**
 * @module registry/schemas — the JSON Schemas of `schemas/` in one Ajv instance, compiled per kind on
 * first use; the single place that knows where schemas live and how `$ref`s between them resolve.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { parseDuration } from "../duration.ts";
import { packagePath } from "../package-root.ts";

/** The subset of JSON Schema the kind schemas use. */
export interface JsonSchema {
  $id?: string;
  $ref?: string;
  title?: string;
  description?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  anyOf?: JsonSchema[];
  definitions?: Record<string, JsonSchema>;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  pattern?: string;
  uniqueItems?: boolean;
  /** taskrt's: the field holds a `file://` path, which the loader resolves and keeps inside the project root. */
  filePath?: boolean;
  /** taskrt's: the longest duration the field accepts, in milliseconds. */
  maxMilliseconds?: number;
  [keyword: string]: unknown;
}

export const SCHEMAS_DIRECTORY = packagePath("schemas");
/** The manifest describes whole files for editors; it is generated from the others, not a kind. */
export const MANIFEST_FILE = "manifest.json";
/** Shared definitions, not a kind. */
export const LIFECYCLE_SCHEMA = "lifecycle";

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

/** Reads every `*.json` schema of a directory but the manifest, keyed by file name without `.json`. */
export function readSchemaDirectory(directory: string): Map<string, JsonSchema> {
  const schemas = new Map<string, JsonSchema>();
  for (const file of readdirSync(directory).sort()) {
    if (!file.endsWith(".json") || file === MANIFEST_FILE) continue;
    schemas.set(file.slice(0, -".json".length), JSON.parse(readFileSync(join(directory, file), "utf8")) as JsonSchema);
  }
  return schemas;
}

/**
 * A set of schemas sharing one Ajv instance, so `$ref: lifecycle.json` resolves between them. The
 * instance is made, and a kind's validator compiled, on first use: start-up pays only for the
 * kinds the registry uses. Schemas named `trusted` (taskrt's own, which its tests check against
 * the meta-schema) are not checked again at every start.
 */
export class SchemaSet {
  readonly schemas: ReadonlyMap<string, JsonSchema>;
  private readonly trusted: ReadonlySet<string>;
  private instance: Ajv | undefined;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(schemas: ReadonlyMap<string, JsonSchema>, trusted: ReadonlySet<string> = new Set()) {
    this.schemas = schemas;
    this.trusted = trusted;
  }

  private get ajv(): Ajv {
    if (this.instance) return this.instance;
    // verbose: errors carry the offending data and the schema, which the messages quote.
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, verbose: true });
    addFormats(ajv);
    ajv.addKeyword({ keyword: "filePath", schemaType: "boolean" });
    // A value that is no duration at all is the pattern's to report, not this keyword's.
    ajv.addKeyword({ keyword: "maxMilliseconds", schemaType: "number", errors: false, validate: (limit: number, data: unknown) => withinDuration(data, limit) });
    for (const [name, schema] of this.schemas) ajv.addSchema(schema, undefined, undefined, !this.trusted.has(name));
    this.instance = ajv;
    return ajv;
  }

  /** Kind names: every schema but the shared lifecycle definitions. */
  kinds(): string[] {
    return [...this.schemas.keys()].filter((name) => name !== LIFECYCLE_SCHEMA).sort();
  }

  kind(kind: string): JsonSchema | undefined {
    return kind === LIFECYCLE_SCHEMA ? undefined : this.schemas.get(kind);
  }

  /** The compiled validator of a kind (fills defaults in place), or undefined if it has no schema. */
  validator(kind: string): ValidateFunction | undefined {
    const cached = this.validators.get(kind);
    if (cached) return cached;
    const schema = this.kind(kind);
    if (!schema) return undefined;
    const validate = schema.$id ? this.ajv.getSchema(schema.$id) : this.ajv.compile(schema);
    if (!validate) throw new Error(`internal: schema ${kind} did not compile`);
    this.validators.set(kind, validate);
    return validate;
  }

  /**
   * Follows `$ref`s (`lifecycle.json`, `lifecycle.json#/definitions/duration`, `#/definitions/x`) to
   * the schema they name. `owner` is the schema file the reference is written in.
   */
  resolve(schema: JsonSchema, owner: string): { schema: JsonSchema; owner: string } {
    let current = { schema, owner };
    for (let depth = 0; current.schema.$ref !== undefined && depth < 16; depth++) {
      const [file, pointer = ""] = current.schema.$ref.split("#");
      const target = file ? file.replace(/\.json$/, "") : current.owner;
      let resolved: unknown = this.schemas.get(target);
      for (const segment of pointer.split("/").filter(Boolean)) {
        resolved = (resolved as Record<string, unknown> | undefined)?.[segment];
      }
      if (resolved === undefined) throw new Error(`internal: $ref ${current.schema.$ref} in ${current.owner} resolves to nothing`);
      current = { schema: resolved as JsonSchema, owner: target };
    }
    return current;
  }
}

function withinDuration(data: unknown, limit: number): boolean {
  if (typeof data !== "string" && typeof data !== "number") return true;
  try {
    return parseDuration(data) <= limit;
  } catch {
    return true;
  }
}

let shared: SchemaSet | undefined;

/** The schemas of the project's `schemas/` directory, read once. */
export function projectSchemas(): SchemaSet {
  if (!shared) {
    const schemas = readSchemaDirectory(SCHEMAS_DIRECTORY);
    shared = new SchemaSet(schemas, new Set(schemas.keys()));
  }
  return shared;
}
