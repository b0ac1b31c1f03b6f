/**
 * @module registry/never-started — finds services the supervisor will never start although they
 * were plainly meant to run: a consumer, process or schedule, or a service other entries use.
 *
 * Such an entry is silent at run time (a consumer's queue just fills), so validation warns. A
 * database or driver that nothing uses is left alone: registries keep those to switch to with `-o`;
 * one that only a service needs is not repeated: that service's warning covers it.
 */
import type { KindDefinition } from "../contracts/kind-definition.ts";
import { PROBLEM_CODES, type Problem } from "../errors.ts";
import type { Registry } from "./entry.ts";
import { dependencyClosure, dependencyGraph, entryReferences } from "./graph.ts";

type Kinds = ReadonlyMap<string, KindDefinition>;

/** One warning per service that neither starts itself nor is needed by one that does. */
export function neverStartedProblems(registry: Registry, kinds: Kinds): Problem[] {
  const isService = (kind: string) => kinds.get(kind)?.service === true;
  const graph = dependencyGraph(registry, kinds);
  const roots = registry.entries.filter((entry) => isService(entry.kind) && autoStarts(entry.data.lifecycle)).map((entry) => entry.id);
  const started = dependencyClosure(graph, roots);
  // Kinds some reference field points at exist to serve others; the rest run on their own.
  const servingKinds = [...kinds.values()].flatMap((definition) => definition.references.flatMap((reference) => reference.kinds));
  const serves = (kind: string) => servingKinds.some((pattern) => (pattern.endsWith(".*") ? kind.startsWith(pattern.slice(0, -1)) : kind === pattern));
  const users = new Map<string, string[]>();
  for (const entry of registry.entries) {
    for (const use of entryReferences(entry, kinds.get(entry.kind))) users.set(use.target, [...(users.get(use.target) ?? []), entry.id]);
  }
  // What some service needs, started or not: when that service never starts, its own warning says so.
  const services = registry.entries.filter((entry) => isService(entry.kind)).map((entry) => entry.id);
  const neededByService = new Set(services.flatMap((id) => [...dependencyClosure(graph, [id])].filter((needed) => needed !== id)));
  const problems: Problem[] = [];
  for (const entry of registry.entries) {
    if (!isService(entry.kind) || started.has(entry.id)) continue;
    const usedBy = [...new Set(users.get(entry.id) ?? [])];
    if (serves(entry.kind) && (usedBy.length === 0 || neededByService.has(entry.id))) continue;
    problems.push({
      code: PROBLEM_CODES.NEVER_STARTED,
      severity: "warning",
      entryId: entry.id,
      field: "lifecycle.auto_start",
      location: entry.locate(["lifecycle", "auto_start"]),
      message: `${entry.id} (${entry.kind}) never starts: its lifecycle.auto_start is not true and no entry that starts requires it${usedBy.length ? ` (used by ${usedBy.join(", ")})` : ""}`,
      hint: `set lifecycle.auto_start: true on ${entry.id}, or add it to lifecycle.requires of an entry that starts`,
    });
  }
  return problems;
}

function autoStarts(lifecycle: unknown): boolean {
  return typeof lifecycle === "object" && lifecycle !== null && (lifecycle as { auto_start?: unknown }).auto_start === true;
}
