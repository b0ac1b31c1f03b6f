/**
 * @module http/request-schema — the JSON Schemas an endpoint declares (inline, or `file://` JSON
 * the loader made absolute): reading them, and compiling them into validators of JSON bodies and
 * of query parameters whose errors name the offending field.
 */
import { readFileSync } from "node:fs";
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import { PROBLEM_CODES, TaskrtError, errorMessage } from "../errors.ts";
import { sourcePath } from "../registry/entry.ts";
import { metaSchemaProblem, type CompileVariant } from "./meta-schema-check.ts";
import { cachedRequestValidator } from "./request-validator-cache.ts";

export type JsonSchemaObject = Record<string, unknown>;

/** One field a request got wrong: a JSON pointer into the body (`/data/numbers/0`), or a query parameter's name. */
export interface ValidationDetail {
  field: string;
  message: string;
}

/** At most this many details per answer: a huge invalid body must not make a huge 400. */
export const MAX_DETAILS = 20;

/**
 * The schema an endpoint field holds: the inline map itself, or the parsed content of its
 * `file:///absolute.json`. Throws E_FILE when the file cannot be read or is not a JSON object.
 */
export function loadSchema(source: unknown, entryId: string, field: string): JsonSchemaObject {
  if (typeof source !== "string") return source as JsonSchemaObject;
  const file = sourcePath(source) ?? source;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : errorMessage(error);
    throw new TaskrtError(PROBLEM_CODES.FILE, `${entryId}: ${field}: cannot read the schema ${file}: ${reason}`, {
      entryId,
      hint: "write file://path/to/schema.json relative to the YAML file, or put the schema inline",
      cause: error,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TaskrtError(PROBLEM_CODES.FILE, `${entryId}: ${field}: the schema ${file} is not valid JSON: ${errorMessage(error)}`, {
      entryId,
      hint: "a schema file holds one JSON Schema object",
      cause: error,
    });
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new TaskrtError(PROBLEM_CODES.FILE, `${entryId}: ${field}: the schema ${file} must hold a JSON object`, { entryId, hint: "a schema file holds one JSON Schema object" });
  }
  return parsed as JsonSchemaObject;
}

/**
 * Compiles with an Ajv of its own, so two schemas that carry the same `$id` (one file used by two
 * endpoints) never collide. JSON Schema 2020-12, the dialect of OpenAPI 3.1; unknown keywords
 * (`example`, …) are allowed, as OpenAPI documents use them. The meta-schema check is shared
 * (meta-schema-check.ts), and a schema compiled once (at validation) is not compiled again (at start),
 * nor at the next start (request-validator-cache.ts).
 */
function compile(schema: JsonSchemaObject, variant: CompileVariant, entryId: string, field: string): ValidateFunction {
  const key = `${variant}\u0000${JSON.stringify(schema)}`;
  const cached = compiled.get(key);
  if (cached) return cached;
  try {
    const problem = metaSchemaProblem(schema, variant);
    if (problem) throw new Error(problem);
    const validate = cachedRequestValidator(schema, variant);
    compiled.set(key, validate);
    return validate;
  } catch (error) {
    throw new TaskrtError(PROBLEM_CODES.SCHEMA, `${entryId}: ${field} is not a valid JSON Schema: ${errorMessage(error)}`, {
      entryId,
      hint: "write a JSON Schema (2020-12), e.g. {type: object, properties: {action: {type: string}}}",
      cause: error,
    });
  }
}

const compiled = new Map<string, ValidateFunction>();

/** Validates a parsed JSON body as is: no defaults filled, no coercion, so the handler sees what was sent. */
export function compileBodyValidator(schema: JsonSchemaObject, entryId: string, field = "request.body"): ValidateFunction {
  return compile(schema, "plain", entryId, field);
}

/**
 * Validates query parameters, which arrive as strings (a repeated one as a list): values are
 * coerced to the declared types (`"10"` passes `type: integer`) in the object being validated only.
 */
export function compileQueryValidator(schema: JsonSchemaObject, entryId: string, field = "request.query"): ValidateFunction {
  if (schema.type !== "object") {
    throw new TaskrtError(PROBLEM_CODES.SCHEMA, `${entryId}: ${field} must be a JSON Schema of type object whose properties are the query parameters, found type ${JSON.stringify(schema.type ?? null)}`, {
      entryId,
      hint: "write {type: object, properties: {limit: {type: integer}}, required: [...]}",
    });
  }
  return compile(schema, "coercing", entryId, field);
}

/** Compiles a schema that is only documented (a response body), to report a broken one at validation. */
export function checkSchema(schema: JsonSchemaObject, entryId: string, field: string): void {
  compile(schema, "plain", entryId, field);
}

/** Body errors, each naming the field by JSON pointer; a missing or unexpected property is named itself. */
export function bodyDetails(errors: readonly ErrorObject[]): ValidationDetail[] {
  return details(errors, (error, property) => (property === undefined ? error.instancePath : `${error.instancePath}/${escapePointer(property)}`));
}

/** Query errors, each naming the parameter (the first segment of the pointer). */
export function queryDetails(errors: readonly ErrorObject[]): ValidationDetail[] {
  return details(errors, (error, property) => property ?? unescapePointer(error.instancePath.split("/")[1] ?? ""));
}

function details(errors: readonly ErrorObject[], fieldOf: (error: ErrorObject, property: string | undefined) => string): ValidationDetail[] {
  const result: ValidationDetail[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    const { property, message } = describeError(error);
    const detail = { field: fieldOf(error, property), message };
    const key = `${detail.field}\u0000${detail.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    result.push(detail);
    if (result.length === MAX_DETAILS) break;
  }
  return result;
}

/** Ajv's wording, except where the field itself is what is missing or not allowed. */
function describeError(error: ErrorObject): { property?: string; message: string } {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return { property: String(params.missingProperty), message: "is required" };
    case "additionalProperties":
      return { property: String(params.additionalProperty), message: "is not allowed" };
    case "unevaluatedProperties":
      return { property: String(params.unevaluatedProperty), message: "is not allowed" };
    case "enum":
      return { message: `must be one of ${(params.allowedValues as unknown[]).map((value) => JSON.stringify(value)).join(", ")}` };
    default:
      return { message: error.message ?? `fails ${error.keyword}` };
  }
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, "/").replace(/~0/g, "~");
}
