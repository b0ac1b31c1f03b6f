/**
 * @module errors — the one error class for user problems (stable codes), and the Problem record
 * that registry loading and validation report, every one located and with a hint.
 */

export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export type Severity = "error" | "warning";

/** One thing wrong with a registry: what, where, which entry, and how to fix it. */
export interface Problem {
  code: ProblemCode;
  severity: Severity;
  message: string;
  entryId?: string;
  /** Dotted path of the field inside the entry, e.g. `concurrency` or `meta.router`. */
  field?: string;
  location?: SourceLocation;
  hint?: string;
}

export const PROBLEM_CODES = {
  YAML: "E_YAML",
  FILE: "E_FILE",
  ENTRY_SHAPE: "E_ENTRY_SHAPE",
  DUPLICATE_ID: "E_DUPLICATE_ID",
  UNKNOWN_KIND: "E_UNKNOWN_KIND",
  /** A kind Wippy has and taskrt does not implement (templates, tree-sitter, LLM, hub packages). */
  UNSUPPORTED_KIND: "E_UNSUPPORTED_KIND",
  /** A Lua module Wippy has and taskrt does not implement, declared or required; or `imports` it cannot honour. */
  UNSUPPORTED_MODULE: "E_UNSUPPORTED_MODULE",
  SCHEMA: "E_SCHEMA",
  REF_UNRESOLVED: "E_REF_UNRESOLVED",
  REF_KIND: "E_REF_KIND",
  CYCLE: "E_CYCLE",
  SOURCE_MISSING: "E_SOURCE_MISSING",
  /** The source exists but cannot be loaded (syntax error, bad import). */
  SOURCE_INVALID: "E_SOURCE_INVALID",
  METHOD_MISSING: "E_METHOD_MISSING",
  /** A handler imports a taskrt module its entry's `modules` do not list. */
  MODULE_NOT_DECLARED: "E_MODULE_NOT_DECLARED",
  ROUTE_CONFLICT: "E_ROUTE_CONFLICT",
  ADDR_CONFLICT: "E_ADDR_CONFLICT",
  PATH_ESCAPE: "E_PATH_ESCAPE",
  OVERRIDE: "E_OVERRIDE",
  /** A `${env:NAME}` placeholder whose variable is not set and has no default. */
  ENV_UNSET: "E_ENV_UNSET",
  UNKNOWN_FIELD: "W_UNKNOWN_FIELD",
  /** A hub module `wippy.lock` lists: taskrt installs and loads none. */
  HUB_MODULE: "W_HUB_MODULE",
  /** A consumer, process or schedule (or a service others use) that nothing starts. */
  NEVER_STARTED: "W_NEVER_STARTED",
  /** A bug in a kind or in taskrt itself, reported rather than thrown. */
  INTERNAL: "E_INTERNAL",
} as const;
export type ProblemCode = (typeof PROBLEM_CODES)[keyof typeof PROBLEM_CODES];

export interface TaskrtErrorOptions {
  entryId?: string;
  hint?: string;
  location?: SourceLocation;
  cause?: unknown;
}

/** A problem the user can fix (bad input, bad configuration, a refused call). Not a bug. */
export class TaskrtError extends Error {
  readonly code: string;
  readonly entryId?: string;
  readonly hint?: string;
  readonly location?: SourceLocation;

  constructor(code: string, message: string, options: TaskrtErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TaskrtError";
    this.code = code;
    this.entryId = options.entryId;
    this.hint = options.hint;
    this.location = options.location;
  }
}

/** A registry that cannot run: carries every problem found, not just the first. */
export class RegistryError extends TaskrtError {
  readonly problems: Problem[];

  constructor(problems: Problem[]) {
    const errors = problems.filter((problem) => problem.severity === "error");
    super("E_REGISTRY", `registry has ${errors.length} problem${errors.length === 1 ? "" : "s"}`);
    this.name = "RegistryError";
    this.problems = problems;
  }
}

export function formatLocation(location: SourceLocation | undefined): string {
  return location ? `${location.file}:${location.line}:${location.column}` : "";
}

/** `file:line:col: error E_CODE [entry] message (hint: …)` — one line per problem, for people. */
export function formatProblem(problem: Problem, relativeTo?: (file: string) => string): string {
  const where = problem.location
    ? `${relativeTo ? relativeTo(problem.location.file) : problem.location.file}:${problem.location.line}:${problem.location.column}: `
    : "";
  const entry = problem.entryId ? ` [${problem.entryId}]` : "";
  const hint = problem.hint ? ` (hint: ${problem.hint})` : "";
  return `${where}${problem.severity} ${problem.code}${entry} ${problem.message}${hint}`;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
