/**
 * @module registry/graph — which entries each entry depends on (its reference fields and lifecycle
 * requires), and the orders and cycles derived from that: start order, closures, loops.
 */
import type { KindDefinition } from "../contracts/kind-definition.ts";
import { resolveId, type Entry, type FieldPath, type Registry } from "./entry.ts";

/** Explicit lifecycle dependencies, read on every kind; their targets must be services. */
export const REFERENCE_LIFECYCLE_PATHS: readonly FieldPath[] = [
  ["lifecycle", "requires"],
  ["lifecycle", "depends_on"],
];

/** One id written in a reference field. */
export interface ReferenceUse {
  /** Path of the id inside the entry, with the list index when the field holds a list. */
  path: (string | number)[];
  /** The same path for messages: `lifecycle.requires[0]`, `meta.router`. */
  field: string;
  written: string;
  /** The full id: bare names take the referring entry's namespace. */
  target: string;
  /** Kinds the target may have (empty: any); `function.*` matches by prefix. */
  kinds: readonly string[];
  /** Lifecycle dependencies must name a service kind. */
  service: boolean;
}

/**
 * Every id an entry's reference fields hold, as written (non-string values are left to the schema).
 * Bare names resolve in the referring entry's namespace for every field. Wippy does so only for some
 * fields at run time (the HTTP ones, `process`) and needs full ids elsewhere; being lenient here costs
 * nothing and spares a confusing "no entry" for `queue: tasks`.
 */
export function entryReferences(entry: Entry, definition: KindDefinition | undefined): ReferenceUse[] {
  const fields = [
    ...(definition?.references ?? []).map((reference) => ({ path: reference.path, kinds: reference.kinds, service: false })),
    ...REFERENCE_LIFECYCLE_PATHS.map((path) => ({ path, kinds: [] as readonly string[], service: true })),
  ];
  const uses: ReferenceUse[] = [];
  for (const field of fields) {
    const value = readField(entry, field.path);
    const items: [string, (string | number)[]][] = Array.isArray(value)
      ? value.map((item, index) => [item, [...field.path, index]] as [string, (string | number)[]])
      : [[value as string, [...field.path]]];
    for (const [written, path] of items) {
      if (typeof written !== "string" || written === "") continue;
      uses.push({ path, field: fieldName(path), written, target: resolveId(written, entry.namespace), kinds: field.kinds, service: field.service });
    }
  }
  return uses;
}

/** A field of the entry as the user sees it: `meta.*` from its meta, anything else from its data. */
export function readField(entry: Entry, path: FieldPath): unknown {
  const [head, ...rest] = path;
  let value: unknown = head === "meta" ? entry.meta : entry.data;
  for (const segment of head === "meta" ? rest : path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

/** `["lifecycle", "requires", 0]` → `lifecycle.requires[0]`. */
export function fieldName(path: FieldPath): string {
  return path.map((segment) => (typeof segment === "number" ? `[${segment}]` : `.${segment}`)).join("").replace(/^\./, "");
}

/** id → ids it depends on (only ids that exist; every entry is a key). */
export function dependencyGraph(registry: Registry, kinds: ReadonlyMap<string, KindDefinition>): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const entry of registry.entries) {
    const dependencies = new Set<string>();
    for (const use of entryReferences(entry, kinds.get(entry.kind))) {
      if (registry.byId.has(use.target)) dependencies.add(use.target);
    }
    graph.set(entry.id, dependencies);
  }
  return graph;
}

/**
 * One cycle per group of entries that depend on each other (strongly connected component), each as
 * the ids along the loop, starting at the smallest id, without repeating it at the end.
 */
export function findCycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (node: string): void => {
    index.set(node, index.size);
    lowLink.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        connect(next);
        lowLink.set(node, Math.min(lowLink.get(node)!, lowLink.get(next)!));
      } else if (onStack.has(next)) {
        lowLink.set(node, Math.min(lowLink.get(node)!, index.get(next)!));
      }
    }
    if (lowLink.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    components.push(component);
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) connect(node);

  const cycles: string[][] = [];
  for (const component of components) {
    const start = component.sort()[0];
    if (component.length === 1 && !graph.get(start)?.has(start)) continue;
    cycles.push(shortestLoop(graph, start, new Set(component)));
  }
  return cycles.sort((left, right) => (left[0] < right[0] ? -1 : 1));
}

/** Breadth-first from `start` back to itself inside its component, neighbours in id order: deterministic. */
function shortestLoop(graph: ReadonlyMap<string, ReadonlySet<string>>, start: string, members: Set<string>): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of [...(graph.get(node) ?? [])].sort()) {
      if (!members.has(next)) continue;
      if (next === start) {
        const loop = [node];
        while (loop[0] !== start) loop.unshift(previous.get(loop[0])!);
        return loop;
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start];
}

/**
 * Dependencies first, level by level, ids in lexicographic order within a level. Entries caught in
 * a cycle come last, in lexicographic order, as Wippy's sort falls back to.
 */
export function topologicalOrder(graph: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const placed = new Set<string>();
  const order: string[] = [];
  let remaining = [...graph.keys()].sort();
  while (remaining.length > 0) {
    const level = remaining.filter((node) =>
      [...(graph.get(node) ?? [])].every((dependency) => dependency === node || placed.has(dependency) || !graph.has(dependency)),
    );
    if (level.length === 0) {
      order.push(...remaining);
      break;
    }
    for (const node of level) placed.add(node);
    order.push(...level);
    remaining = remaining.filter((node) => !placed.has(node));
  }
  return order;
}

/** The roots and everything they depend on, transitively. */
export function dependencyClosure(graph: ReadonlyMap<string, ReadonlySet<string>>, roots: Iterable<string>): Set<string> {
  const closure = new Set<string>();
  const pending = [...roots];
  while (pending.length > 0) {
    const node = pending.pop()!;
    if (closure.has(node)) continue;
    closure.add(node);
    for (const dependency of graph.get(node) ?? []) pending.push(dependency);
  }
  return closure;
}
