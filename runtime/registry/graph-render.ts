/**
 * @module registry/graph-render — draws a registry's entries and references as a Mermaid flowchart
 * or a Graphviz DOT digraph: one node per entry, shaped by its kind's family, grouped by namespace,
 * with an arrow from each referrer to what it references, labelled with the field.
 */
import type { KindDefinition } from "../contracts/kind-definition.ts";
import type { Registry } from "./entry.ts";
import { referenceEdges } from "./inspect.ts";

export interface GraphNode {
  id: string;
  kind: string;
  namespace: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  /** The field without list indexes or the `lifecycle.` prefix: `func`, `meta.router`, `requires`. */
  label: string;
}

export interface RegistryGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export type GraphFormat = "mermaid" | "dot";
export const GRAPH_FORMATS: readonly GraphFormat[] = ["mermaid", "dot"];

interface Shape {
  /** Mermaid's brackets around a quoted label. */
  mermaid: [string, string];
  dot: string;
}

const SHAPES = {
  store: { mermaid: ["[(", ")]"], dot: "shape=cylinder" },
  engine: { mermaid: ["{{", "}}"], dot: "shape=hexagon" },
  code: { mermaid: ["[[", "]]"], dot: "shape=component" },
  worker: { mermaid: ["([", "])"], dot: "shape=box, style=rounded" },
  box: { mermaid: ["[", "]"], dot: "shape=box" },
} as const satisfies Record<string, Shape>;

/**
 * Kind families, first match wins: what holds data is a cylinder (as the seed draws its queue and
 * database), drivers are engines, code is a subroutine, supervised workers are rounded, the rest
 * (HTTP and any kind not listed) are boxes.
 */
const KIND_SHAPES: readonly [prefix: string, shape: Shape][] = [
  ["db.", SHAPES.store],
  ["queue.queue", SHAPES.store],
  ["queue.driver.", SHAPES.engine],
  ["function.", SHAPES.code],
  ["process.service", SHAPES.worker],
  ["process.host", SHAPES.worker],
  ["process.", SHAPES.code],
  ["queue.consumer", SHAPES.worker],
];

export function shapeOf(kind: string): Shape {
  return KIND_SHAPES.find(([prefix]) => kind.startsWith(prefix))?.[1] ?? SHAPES.box;
}

/** Nodes in registry order; one edge per referrer, target and label (a list naming an id twice draws one arrow). */
export function registryGraph(registry: Registry, kinds: ReadonlyMap<string, KindDefinition>): RegistryGraph {
  const seen = new Set<string>();
  const edges: GraphEdge[] = [];
  for (const edge of referenceEdges(registry, kinds)) {
    const label = edge.field.replace(/\[\d+\]/g, "").replace(/^lifecycle\./, "");
    const key = JSON.stringify([edge.from, edge.to, label]);
    if (seen.has(key)) continue;
    seen.add(key);
    edges.push({ from: edge.from, to: edge.to, label });
  }
  return { nodes: registry.entries.map((entry) => ({ id: entry.id, kind: entry.kind, namespace: entry.namespace })), edges };
}

export function renderGraph(graph: RegistryGraph, format: GraphFormat): string {
  switch (format) {
    case "mermaid":
      return renderMermaid(graph);
    case "dot":
      return renderDot(graph);
    default: {
      const unknown: never = format;
      throw new Error(`unknown graph format ${String(unknown)}`);
    }
  }
}

/** A `flowchart LR` with one subgraph per namespace, in order of first appearance. */
export function renderMermaid(graph: RegistryGraph): string {
  const names = new UniqueNames();
  const groups = byNamespace(graph.nodes);
  const groupNames = new Map([...groups.keys()].map((namespace) => [namespace, names.take(namespace)]));
  const nodeNames = new Map(graph.nodes.map((node) => [node.id, names.take(node.id)]));
  const lines = ["flowchart LR"];
  for (const [namespace, nodes] of groups) {
    lines.push(`    subgraph ${groupNames.get(namespace)}["${mermaidText(namespace)}"]`);
    for (const node of nodes) {
      const [open, close] = shapeOf(node.kind).mermaid;
      lines.push(`        ${nodeNames.get(node.id)}${open}"${mermaidText(node.id)}<br/>${mermaidText(node.kind)}"${close}`);
    }
    lines.push("    end");
  }
  for (const edge of graph.edges) lines.push(`    ${nodeNames.get(edge.from)} -->|"${mermaidText(edge.label)}"| ${nodeNames.get(edge.to)}`);
  return lines.join("\n") + "\n";
}

/** A `digraph` laid out left to right, one `cluster_` subgraph per namespace; node ids are the entry ids. */
export function renderDot(graph: RegistryGraph): string {
  const lines = ["digraph registry {", "    rankdir=LR;"];
  for (const [namespace, nodes] of byNamespace(graph.nodes)) {
    lines.push(`    subgraph ${dotString(`cluster_${namespace}`)} {`, `        label=${dotString(namespace)};`);
    for (const node of nodes) lines.push(`        ${dotString(node.id)} [label=${dotString(`${node.id}\n${node.kind}`)}, ${shapeOf(node.kind).dot}];`);
    lines.push("    }");
  }
  for (const edge of graph.edges) lines.push(`    ${dotString(edge.from)} -> ${dotString(edge.to)} [label=${dotString(edge.label)}];`);
  lines.push("}");
  return lines.join("\n") + "\n";
}

function byNamespace(nodes: readonly GraphNode[]): Map<string, GraphNode[]> {
  const groups = new Map<string, GraphNode[]>();
  for (const node of nodes) {
    const group = groups.get(node.namespace);
    if (group) group.push(node);
    else groups.set(node.namespace, [node]);
  }
  return groups;
}

/** Words Mermaid's flowchart grammar reads as keywords, never usable as a node or subgraph id. */
const MERMAID_KEYWORDS = ["end", "subgraph", "graph", "flowchart", "direction", "style", "class", "classDef", "click", "linkStyle", "default"];

/** Mermaid node ids allow only letters, digits and `_`; distinct ids that read alike get a number. */
class UniqueNames {
  private readonly taken = new Set<string>(MERMAID_KEYWORDS);

  take(text: string): string {
    const base = text.replace(/[^A-Za-z0-9_]/g, "_");
    let name = base;
    for (let suffix = 2; this.taken.has(name); suffix++) name = `${base}_${suffix}`;
    this.taken.add(name);
    return name;
  }
}

/** Inside a quoted Mermaid label a `"` ends the label; Mermaid's entity codes stand in for the few characters that matter. */
function mermaidText(text: string): string {
  return text.replace(/[#"<>]/g, (character) => `#${character.charCodeAt(0)};`);
}

/** A DOT double-quoted string; `\n` inside becomes DOT's centred line break. */
function dotString(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}
