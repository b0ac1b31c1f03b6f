/**
 * @module registry/inspect — a validated registry as people and tools look at it: every reference
 * resolved to a full id, who refers to whom, and each service's place in the start-up.
 */
import { TaskrtError, type SourceLocation } from "../errors.ts";
import type { KindDefinition } from "../contracts/kind-definition.ts";
import type { Entry, Registry } from "./entry.ts";
import { dependencyClosure, dependencyGraph, entryReferences } from "./graph.ts";
import { didYouMean } from "./suggest.ts";

/** One reference between two existing entries: `from` holds `to` in `field` (`func`, `lifecycle.requires[0]`). */
export interface ReferenceEdge {
  from: string;
  to: string;
  field: string;
  /** The same field as a path: `["lifecycle", "requires", 0]`, `["meta", "router"]`. */
  path: (string | number)[];
}

export interface EntrySummary {
  id: string;
  kind: string;
  location: SourceLocation;
  /** What this entry refers to, in field order. */
  references: { field: string; target: string }[];
}

/** A service's start-up as the supervisor will run it. */
export type LifecycleSummary =
  | { service: false }
  | {
      service: true;
      auto_start: boolean;
      /** `lifecycle.requires` and `depends_on`, merged, as full ids. */
      requires: string[];
      /** Services it waits for: every service it reaches through its references, directly or not. */
      starts_after: string[];
      /** Whether `taskrt run` starts it: auto-started, or needed by an auto-started service. */
      starts_at_boot: boolean;
      /** The auto-started services (other than itself) that need it. */
      needed_by: string[];
    };

export interface EntryDetail {
  id: string;
  kind: string;
  namespace: string;
  name: string;
  location: SourceLocation;
  /** Filled with the schema's defaults; reference fields hold full ids. */
  data: Record<string, unknown>;
  meta: Record<string, unknown>;
  references: { field: string; target: string; kind: string }[];
  referenced_by: { id: string; field: string }[];
  lifecycle: LifecycleSummary;
}

/** Every reference whose target exists, in entry order, then field order; lists give one edge per item. */
export function referenceEdges(registry: Registry, kinds: ReadonlyMap<string, KindDefinition>): ReferenceEdge[] {
  return registry.entries.flatMap((entry) =>
    entryReferences(entry, kinds.get(entry.kind))
      .filter((use) => registry.byId.has(use.target))
      .map((use) => ({ from: entry.id, to: use.target, field: use.field, path: use.path })),
  );
}

/** One line's worth per entry, in registry order. */
export function summarizeEntries(registry: Registry, kinds: ReadonlyMap<string, KindDefinition>): EntrySummary[] {
  const edges = referenceEdges(registry, kinds);
  return registry.entries.map((entry) => ({
    id: entry.id,
    kind: entry.kind,
    location: entry.location,
    references: edges.filter((edge) => edge.from === entry.id).map((edge) => ({ field: edge.field, target: edge.to })),
  }));
}

/** Everything about one entry; an unknown id is an `E_ENTRY_NOT_FOUND` with the closest ids. */
export function inspectEntry(registry: Registry, kinds: ReadonlyMap<string, KindDefinition>, id: string): EntryDetail {
  const entry = registry.byId.get(id);
  if (!entry) {
    throw new TaskrtError("E_ENTRY_NOT_FOUND", `no entry ${id}`, {
      hint: didYouMean(id, registry.byId.keys()) ?? "an id is namespace:name; list them all by leaving the id out",
    });
  }
  const edges = referenceEdges(registry, kinds);
  const outgoing = edges.filter((edge) => edge.from === id);
  return {
    id: entry.id,
    kind: entry.kind,
    namespace: entry.namespace,
    name: entry.name,
    location: entry.location,
    data: withResolvedReferences(entry, outgoing, "data"),
    meta: withResolvedReferences(entry, outgoing, "meta"),
    references: outgoing.map((edge) => ({ field: edge.field, target: edge.to, kind: registry.byId.get(edge.to)!.kind })),
    referenced_by: edges.filter((edge) => edge.to === id).map((edge) => ({ id: edge.from, field: edge.field })),
    lifecycle: summarizeLifecycle(registry, kinds, entry),
  };
}

/** A copy of the entry's data (or meta) with each reference written as its full id. */
function withResolvedReferences(entry: Entry, edges: ReferenceEdge[], part: "data" | "meta"): Record<string, unknown> {
  const copy = structuredClone(part === "data" ? entry.data : entry.meta);
  for (const { path, to } of edges) {
    const inMeta = path[0] === "meta";
    if (inMeta !== (part === "meta")) continue;
    setAt(copy, inMeta ? path.slice(1) : path, to);
  }
  return copy;
}

function setAt(target: Record<string, unknown>, path: (string | number)[], value: unknown): void {
  let node: unknown = target;
  for (const segment of path.slice(0, -1)) {
    if (typeof node !== "object" || node === null) return;
    node = (node as Record<string | number, unknown>)[segment];
  }
  if (typeof node === "object" && node !== null) (node as Record<string | number, unknown>)[path[path.length - 1]] = value;
}

function summarizeLifecycle(registry: Registry, kinds: ReadonlyMap<string, KindDefinition>, entry: Entry): LifecycleSummary {
  const isService = (id: string) => kinds.get(registry.byId.get(id)?.kind ?? "")?.service === true;
  if (!isService(entry.id)) return { service: false };
  const graph = dependencyGraph(registry, kinds);
  const autoStarted = (id: string) => isService(id) && lifecycleData(registry.byId.get(id)!).auto_start === true;
  const lifecycle = lifecycleData(entry);
  // Without a kind definition, entryReferences reads only the lifecycle fields.
  const requires = entryReferences(entry, undefined).map((use) => use.target);
  const roots = [...graph.keys()].filter(autoStarted);
  const neededBy = roots.filter((root) => root !== entry.id && dependencyClosure(graph, [root]).has(entry.id));
  const startsAfter = [...dependencyClosure(graph, [entry.id])].filter((id) => id !== entry.id && isService(id)).sort();
  return {
    service: true,
    auto_start: lifecycle.auto_start === true,
    requires: [...new Set(requires)],
    starts_after: startsAfter,
    starts_at_boot: lifecycle.auto_start === true || neededBy.length > 0,
    needed_by: neededBy,
  };
}

function lifecycleData(entry: Entry): { auto_start?: unknown } {
  const lifecycle = entry.data.lifecycle;
  return typeof lifecycle === "object" && lifecycle !== null ? (lifecycle as { auto_start?: unknown }) : {};
}
