/**
 * @module registry/validate — checks a loaded registry against the kinds: schemas (filling their
 * defaults into the entries), unknown fields, references, cycles and each kind's own checks, and
 * reports every problem found, located, sorted by file and line.
 */
import type { ErrorObject, ValidateFunction } from "ajv";
import { formatDurationExact } from "../duration.ts";
import { errorMessage, PROBLEM_CODES, TaskrtError, type Problem, type ProblemCode } from "../errors.ts";
import { kindMatches, type KindDefinition } from "../contracts/kind-definition.ts";
import type { Entry, Registry } from "./entry.ts";
import { dependencyGraph, entryReferences, fieldName, findCycles } from "./graph.ts";
import { expandEntryPlaceholders } from "./env-placeholders.ts";
import { describe } from "./load.ts";
import { projectSchemas, type JsonSchema, type SchemaSet } from "./schemas.ts";
import { didYouMean } from "./suggest.ts";
import { wippyKindArea, wippyModuleArea } from "../wippy-unsupported.ts";

export { REFERENCE_LIFECYCLE_PATHS } from "./graph.ts";

type Kinds = ReadonlyMap<string, KindDefinition>;
/** Every entry has these, whatever its kind's schema declares. */
const ENTRY_KEYS = new Set(["name", "kind", "meta"]);

/**
 * Bugs in taskrt (a kind without a schema, a check that throws), as opposed to registry problems.
 * Not (yet) among PROBLEM_CODES, hence the cast.
 */
const INTERNAL = PROBLEM_CODES.INTERNAL;

/** Every problem of the registry, errors and warnings, sorted by file, line and column. */
export async function validateRegistry(registry: Registry, kinds: Kinds, schemas: SchemaSet = projectSchemas()): Promise<Problem[]> {
  const problems: Problem[] = [];
  const checked: Entry[] = [];
  const unvalidated: Entry[] = [];
  for (const entry of registry.entries) {
    const definition = kinds.get(entry.kind);
    if (!definition) {
      problems.push(unknownKind(entry, kinds));
      continue;
    }
    const unset = expandEntryPlaceholders(entry, schemas, definition.placeholdersAtStart ?? []);
    if (unset.length > 0) {
      // The schema would only repeat it: the field still holds its placeholder.
      problems.push(...unset);
      continue;
    }
    const before = problems.length;
    validateSchema(entry, schemas, problems);
    // A kind's check may rely on what its schema guarantees, so it only sees entries that passed.
    if (!problems.slice(before).some((problem) => problem.severity === "error")) checked.push(entry);
    else unvalidated.push(entry);
    problems.push(...referenceProblems(entry, registry, kinds));
  }
  problems.push(...cycleProblems(registry, kinds));
  const results = await Promise.all([
    ...checked.map((entry) => runCheck(entry, registry, kinds.get(entry.kind)!, "check")),
    ...unvalidated.map((entry) => runCheck(entry, registry, kinds.get(entry.kind)!, "checkUnvalidated")),
  ]);
  problems.push(...results.flat());
  return sortProblems(problems);
}

/** By file, line and column; problems without a location first. Stable otherwise. */
export function sortProblems(problems: Problem[]): Problem[] {
  const key = (problem: Problem): [string, number, number] => [problem.location?.file ?? "", problem.location?.line ?? 0, problem.location?.column ?? 0];
  return problems
    .map((problem, index) => ({ problem, index, key: key(problem) }))
    .sort((left, right) => {
      const [fileA, lineA, columnA] = left.key;
      const [fileB, lineB, columnB] = right.key;
      if (fileA !== fileB) return fileA < fileB ? -1 : 1;
      return lineA - lineB || columnA - columnB || left.index - right.index;
    })
    .map(({ problem }) => problem);
}

function unknownKind(entry: Entry, kinds: Kinds): Problem {
  const known = [...kinds.keys()].sort();
  const area = wippyKindArea(entry.kind);
  if (area) {
    const component = entry.kind === "ns.dependency" && typeof entry.data.component === "string" ? ` ${entry.data.component}` : "";
    return {
      code: PROBLEM_CODES.UNSUPPORTED_KIND,
      severity: "error",
      entryId: entry.id,
      field: "kind",
      location: entry.locate(["kind"]),
      message: `Wippy kind '${entry.kind}' is not supported by taskrt (supported: ${known.join(", ")})`,
      hint: `taskrt does not implement ${area}${component ? `, so the hub package${component} cannot be installed` : ""}; remove the entry, or provide the kind with a kind module (--kinds)`,
    };
  }
  const suggestion = didYouMean(entry.kind, known);
  return {
    code: PROBLEM_CODES.UNKNOWN_KIND,
    severity: "error",
    entryId: entry.id,
    field: "kind",
    location: entry.locate(["kind"]),
    message: `unknown kind "${entry.kind}"`,
    hint: `${suggestion ? `${suggestion} ` : ""}known kinds: ${known.join(", ")}`,
  };
}

/** Validates `{name, kind, meta, ...data}` as written, then keeps the defaults the schema filled in. */
function validateSchema(entry: Entry, schemas: SchemaSet, problems: Problem[]): void {
  const internal = (message: string): void => {
    problems.push({ code: INTERNAL, severity: "error", entryId: entry.id, location: entry.locate(["kind"]), message, hint: "this is a bug in taskrt, not in the registry" });
  };
  const schema = schemas.kind(entry.kind);
  let validate: ValidateFunction | undefined;
  try {
    validate = schemas.validator(entry.kind);
  } catch (error) {
    return internal(`internal: the schema of ${entry.kind} does not compile: ${errorMessage(error)}`);
  }
  if (!validate || !schema) return internal(`internal: kind ${entry.kind} has no schema (expected schemas/${entry.kind}.json, or a schema in its definition)`);
  const candidate: Record<string, unknown> = { ...entry.data, name: entry.name, kind: entry.kind, meta: entry.meta };
  const valid = validate(candidate);
  const { name: _name, kind: _kind, meta, ...data } = candidate;
  // Defined rather than assigned: a `__proto__` key written in YAML must stay a plain (unknown) field.
  for (const [key, value] of Object.entries(data)) Object.defineProperty(entry.data, key, { value, writable: true, enumerable: true, configurable: true });
  entry.meta = meta as Record<string, unknown>;
  if (!valid) problems.push(...schemaProblems(entry, candidate, validate.errors ?? []));
  problems.push(...unknownFields(entry, candidate, schema, schemas));
}

/** One problem per ajv error, worded for people; errors inside a failed `anyOf` branch fold into it. */
function schemaProblems(entry: Entry, candidate: Record<string, unknown>, errors: readonly ErrorObject[]): Problem[] {
  const alternatives = errors.filter((error) => error.keyword === "anyOf").map((error) => `${error.schemaPath}/`);
  return errors
    .filter((error) => !alternatives.some((prefix) => error.schemaPath.startsWith(prefix)))
    .map((error) => {
      const path = instancePath(candidate, error.instancePath);
      const parent = (error.parentSchema ?? {}) as JsonSchema;
      let hint: string | undefined;
      let message: string;
      const wippyModule = unsupportedWippyModule(error, path);
      if (wippyModule) {
        const supported = (error.params as { allowedValues: unknown[] }).allowedValues.join(", ");
        return {
          code: PROBLEM_CODES.UNSUPPORTED_MODULE,
          severity: "error" as const,
          entryId: entry.id,
          field: fieldName(path),
          location: entry.locate(path),
          message: `${fieldName(path)}: Wippy module '${error.data}' is not supported by taskrt (supported: ${supported})`,
          hint: `taskrt does not implement ${wippyModuleArea(String(error.data))}`,
        };
      }
      if (error.keyword === "required") {
        const missing = (error.params as { missingProperty: string }).missingProperty;
        path.push(missing);
        const description = parent.properties?.[missing]?.description;
        message = description ? `${fieldName(path)} is required: ${sentencePart(description)}` : `missing required field "${fieldName(path)}"`;
      } else {
        message = `${fieldName(path)}: ${expectation(error, parent)}, found ${found(error)}`;
        if (error.keyword === "maxMilliseconds") hint = "a Node.js timer cannot wait longer (it would fire at once); where the field is optional, leaving it out means no limit";
        else if (error.keyword !== "anyOf" && parent.description) hint = parent.description;
      }
      return {
        code: PROBLEM_CODES.SCHEMA,
        severity: "error" as const,
        entryId: entry.id,
        field: fieldName(path),
        location: entry.locate(path),
        message,
        hint,
      };
    });
}

/** True for a `modules` item refused by the schema that names a Wippy module taskrt lacks. */
function unsupportedWippyModule(error: ErrorObject, path: (string | number)[]): boolean {
  return error.keyword === "enum" && path[0] === "modules" && path.length === 2 && typeof error.data === "string" && wippyModuleArea(error.data) !== undefined;
}

/** What the schema expected, per keyword: `must be <= 1000`, `must be one of "OFF", "NORMAL"`. */
function expectation(error: ErrorObject, parent: JsonSchema): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "type": {
      const names: Record<string, string> = { integer: "an integer", number: "a number", string: "a string", boolean: "true or false", object: "a map", array: "a list", null: "null" };
      return `must be ${String(params.type).split(",").map((type) => names[type] ?? type).join(" or ")}`;
    }
    case "enum":
      return `must be one of ${(params.allowedValues as unknown[]).map((value) => JSON.stringify(value)).join(", ")}`;
    case "const":
      return `must be ${JSON.stringify(params.allowedValue)}`;
    case "pattern":
      return `must match ${params.pattern}`;
    case "minLength":
      return params.limit === 1 ? "must not be empty" : `must be at least ${params.limit} characters`;
    case "uniqueItems":
      return "must not list the same item twice";
    case "maxMilliseconds":
      return `must be at most ${formatDurationExact(parent.maxMilliseconds!)}`;
    case "anyOf":
      return parent.description ? `expected ${sentencePart(parent.description)}` : "matches none of the accepted forms";
    default:
      return error.message ?? `fails ${error.keyword}`;
  }
}

function found(error: ErrorObject): string {
  if (error.keyword !== "uniqueItems") return describe(error.data);
  const repeated = (error.data as unknown[])[(error.params as { i: number }).i];
  return `${describe(repeated)} twice`;
}

/** `/lifecycle/requires/0` → `["lifecycle", "requires", 0]`, numbers where the data holds a list. */
function instancePath(candidate: unknown, pointer: string): (string | number)[] {
  const path: (string | number)[] = [];
  let value = candidate;
  for (const raw of pointer.split("/").slice(1)) {
    const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    const key = Array.isArray(value) ? Number(segment) : segment;
    path.push(key);
    value = typeof value === "object" && value !== null ? (value as Record<string | number, unknown>)[key] : undefined;
  }
  return path;
}

/** "The http.router this endpoint belongs to." → "the http.router this endpoint belongs to". */
function sentencePart(description: string): string {
  return description.charAt(0).toLowerCase() + description.slice(1).replace(/\.$/, "");
}

/**
 * Keys the schema does not declare, at the top and inside declared sub-objects (lifecycle, restart,
 * timeouts, backoff). Warnings only: Wippy ignores unknown keys, so Wippy registries carry some.
 */
function unknownFields(entry: Entry, candidate: Record<string, unknown>, schema: JsonSchema, schemas: SchemaSet): Problem[] {
  const problems: Problem[] = [];
  const visit = (value: Record<string, unknown>, written: JsonSchema, owner: string, path: string[]): void => {
    const resolved = schemas.resolve(written, owner);
    const properties = resolved.schema.properties ?? {};
    const known = Object.keys(properties);
    // A map without declared properties (meta, options, driver_options) is free-form.
    if (known.length === 0) return;
    // An entry of application data (registry.entry) takes any field.
    if (path.length === 0 && resolved.schema.additionalProperties === true) return;
    for (const [key, item] of Object.entries(value)) {
      if (path.length === 0 && ENTRY_KEYS.has(key)) continue;
      const field = [...path, key];
      if (!Object.hasOwn(properties, key)) {
        const where = path.length === 0 ? entry.kind : `${fieldName(path)} of ${entry.kind}`;
        problems.push({
          code: PROBLEM_CODES.UNKNOWN_FIELD,
          severity: "warning",
          entryId: entry.id,
          field: fieldName(field),
          location: entry.locate(field),
          message: `unknown field "${fieldName(field)}": ${where} has no such field and ignores it`,
          hint: didYouMean(key, known) ?? `known fields: ${known.filter((name) => path.length > 0 || !ENTRY_KEYS.has(name)).join(", ")}`,
        });
      } else if (!(path.length === 0 && key === "meta") && typeof item === "object" && item !== null && !Array.isArray(item)) {
        visit(item as Record<string, unknown>, properties[key], resolved.owner, field);
      }
    }
  };
  visit(candidate, schema, entry.kind, []);
  return problems;
}

/**
 * The strict reading (`--strict`): an unknown field is an error, so a typo stops the launch instead
 * of leaving the field at its default.
 */
export function refuseUnknownFields(problems: readonly Problem[]): Problem[] {
  return problems.map((problem) =>
    problem.code === PROBLEM_CODES.UNKNOWN_FIELD
      ? { ...problem, severity: "error", message: problem.message.replace(/ and ignores it$/, ", and unknown fields are refused in strict mode") }
      : problem,
  );
}

/** Each referenced id must exist and have an accepted kind; lifecycle dependencies must be services. */
function referenceProblems(entry: Entry, registry: Registry, kinds: Kinds): Problem[] {
  const problems: Problem[] = [];
  const serviceKinds = [...kinds.values()].filter((definition) => definition.service).map((definition) => definition.kind).sort();
  for (const use of entryReferences(entry, kinds.get(entry.kind))) {
    const accepts = (kind: string): boolean => (use.service ? kinds.get(kind)?.service === true : kindMatches(kind, use.kinds));
    const expected = use.service ? `a service (${serviceKinds.join(", ")})` : use.kinds.join(" or ");
    const fitting = registry.entries.filter((candidate) => candidate !== entry && accepts(candidate.kind)).map((candidate) => candidate.id);
    const listing = fitting.length > 0 && fitting.length <= 8 ? `entries that fit: ${fitting.join(", ")}` : undefined;
    const located = { entryId: entry.id, field: use.field, location: entry.locate(use.path) };
    const target = registry.byId.get(use.target);
    if (!target) {
      const close = didYouMean(use.target, fitting.length > 0 ? fitting : registry.byId.keys(), false);
      problems.push({ code: PROBLEM_CODES.REF_UNRESOLVED, severity: "error", ...located, message: `${use.field}: no entry ${use.target}`, hint: close ?? listing });
    } else if (kinds.has(target.kind) && !accepts(target.kind)) {
      problems.push({
        code: PROBLEM_CODES.REF_KIND,
        severity: "error",
        ...located,
        message: `${use.field}: ${target.id} is a ${target.kind}, expected ${expected}`,
        hint: listing,
      });
    }
  }
  return problems;
}

function cycleProblems(registry: Registry, kinds: Kinds): Problem[] {
  return findCycles(dependencyGraph(registry, kinds)).map((cycle) => {
    const entry = registry.byId.get(cycle[0])!;
    const next = cycle[1 % cycle.length];
    const use = entryReferences(entry, kinds.get(entry.kind)).find((candidate) => candidate.target === next);
    return {
      code: PROBLEM_CODES.CYCLE,
      severity: "error" as const,
      entryId: entry.id,
      field: use?.field,
      location: use ? entry.locate(use.path) : entry.location,
      message: `dependency cycle: ${[...cycle, cycle[0]].join(" → ")}`,
      hint: "nothing in a cycle can start first: remove one of these references",
    };
  });
}

/** The kind's own checks; a throw is reported as a problem of that entry rather than aborting validation. */
async function runCheck(entry: Entry, registry: Registry, definition: KindDefinition, which: "check" | "checkUnvalidated"): Promise<Problem[]> {
  const check = definition[which];
  if (!check) return [];
  try {
    return await check.call(definition, entry, registry);
  } catch (error) {
    if (error instanceof TaskrtError) {
      const code = error.code as ProblemCode;
      return [{ code, severity: "error", entryId: entry.id, location: error.location ?? entry.location, message: error.message, hint: error.hint }];
    }
    return [
      {
        code: INTERNAL,
        severity: "error",
        entryId: entry.id,
        location: entry.location,
        message: `internal: the ${entry.kind} check failed: ${errorMessage(error)}`,
        hint: "this is a bug in taskrt, not in the registry",
      },
    ];
  }
}
