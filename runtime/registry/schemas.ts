/**
 * @module registry/schemas — the JSON Schemas of `schemas/` in one Ajv instance, compiled per kind on
 * first use; the single place that knows where schemas live and how `$ref`s between them resolve.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { Ajv, type CodeOptions, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { packagePath } from "../package-root.ts";
import { durationLimitKeyword } from "./duration-limit.ts";
import { PRECOMPILED_VALIDATORS } from "./precompiled-validators.ts";

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

  /** The Ajv holding every schema; `code` for compiling them ahead of time (standalone-validators.ts). */
  createAjv(code?: CodeOptions): Ajv {
    // verbose: errors carry the offending data and the schema, which the messages quote.
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, verbose: true, ...(code ? { code } : {}) });
    addFormats(ajv);
    ajv.addKeyword({ keyword: "filePath", schemaType: "boolean" });
    ajv.addKeyword(durationLimitKeyword);
    for (const [name, schema] of this.schemas) ajv.addSchema(schema, undefined, undefined, !this.trusted.has(name));
    return ajv;
  }

  /** Identifies the trusted schemas' content: validators compiled ahead of time are used only for the same. */
  trustedDigest(): string {
    const hash = createHash("sha256");
    for (const name of [...this.trusted].sort()) hash.update(`${name}\u0000${JSON.stringify(this.schemas.get(name))}\u0000`);
    return hash.digest("hex");
  }

  private get ajv(): Ajv {
    this.instance ??= this.createAjv();
    return this.instance;
  }

  private precompiled(kind: string): ValidateFunction | undefined {
    if (!PRECOMPILED_VALIDATORS || !this.trusted.has(kind)) return undefined;
    this.precompiledMatch ??= PRECOMPILED_VALIDATORS.digest === this.trustedDigest();
    return this.precompiledMatch ? PRECOMPILED_VALIDATORS.validators[kind] : undefined;
  }

  private precompiledMatch: boolean | undefined;

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
    const validate = this.precompiled(kind) ?? (schema.$id ? this.ajv.getSchema(schema.$id) : this.ajv.compile(schema));
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

let shared: SchemaSet | undefined;

/** The schemas of the project's `schemas/` directory, read once. */
export function projectSchemas(): SchemaSet {
  if (!shared) {
    const schemas = readSchemaDirectory(SCHEMAS_DIRECTORY);
    shared = new SchemaSet(schemas, new Set(schemas.keys()));
  }
  return shared;
}
