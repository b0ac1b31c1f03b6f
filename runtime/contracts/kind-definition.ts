/**
 * @module contracts/kind-definition — the contract every kind implements: which fields reference
 * other entries, whether the supervisor runs it, extra semantic checks, and the factory that builds it.
 * A kind's fields, defaults and limits live in its JSON Schema (`schemas/<kind>.json` for the built-in
 * kinds, `schema` for a kind from outside taskrt), never in its code.
 */
import type { Problem } from "../errors.ts";
import type { Entry, FieldPath, Registry } from "../registry/entry.ts";
import type { JsonSchema } from "../registry/schemas.ts";
import type { BuildContext } from "./build-context.ts";
import type { Component } from "./component.ts";

/** A field holding one id or a list of ids of other entries. */
export interface ReferenceField {
  path: FieldPath;
  /** Kinds the target may have; `"function.*"` matches by prefix. Empty: any kind. */
  kinds: readonly string[];
}

export interface KindDefinition {
  kind: string;
  /** One line for the README's kinds table and `--help`. */
  summary: string;
  references: readonly ReferenceField[];
  /** Supervised: has a `lifecycle`, is started in dependency order and stopped in reverse. */
  service: boolean;
  /**
   * Fields whose `${env:…}` placeholders the kind resolves itself when it starts (credentials read
   * fresh at each connect, parts of a URL that need encoding); validation leaves them as written.
   */
  placeholdersAtStart?: readonly FieldPath[];
  /**
   * The JSON Schema of the entry's fields, for a kind from outside taskrt (a project's, a package's):
   * the only place their defaults and limits are written. `name`, `kind` and `meta` are added when
   * left out; `$ref: "lifecycle.json"` and `lifecycle.json#/definitions/duration` resolve to taskrt's.
   * Built-in kinds keep theirs in `schemas/<kind>.json`.
   */
  schema?: JsonSchema;
  /** Checks beyond the schema and references (a source file exports its `method`, …). */
  check?(entry: Entry, registry: Registry): Problem[] | Promise<Problem[]>;
  /**
   * The part of `check` that needs nothing the schema guarantees (a source file parses). It runs
   * instead of `check` for an entry whose fields failed their schema, so one report shows both.
   */
  checkUnvalidated?(entry: Entry, registry: Registry): Problem[] | Promise<Problem[]>;
  /** Builds the component. Does no I/O: opening, listening and connecting happen in `start`. */
  create(entry: Entry, context: BuildContext): Component;
}

export function defineKind(definition: KindDefinition): KindDefinition {
  return definition;
}

/** `"function.*"` matches `function.ts` and `function.lua`. */
export function kindMatches(kind: string, accepted: readonly string[]): boolean {
  if (accepted.length === 0) return true;
  return accepted.some((pattern) => (pattern.endsWith(".*") ? kind.startsWith(pattern.slice(0, -1)) : kind === pattern));
}
