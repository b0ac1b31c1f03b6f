/**
 * @module bin/commands/graph — `taskrt graph PATH`: the validated registry's entries and references
 * as a Mermaid flowchart (default) or Graphviz DOT, on stdout.
 */
import { createKindTable } from "../../runtime/kinds/index.ts";
import { GRAPH_FORMATS, registryGraph, renderGraph, type GraphFormat } from "../../runtime/registry/graph-render.ts";
import { flagValue, flagValues } from "../args.ts";
import { KINDS_FLAG, OVERRIDE_FLAG, checkedRegistry, projectKinds, registryPath, type Command } from "./command.ts";

export const graphCommand: Command = {
  name: "graph",
  usage: "graph PATH [--format mermaid|dot]",
  description: "draw the entries and their references",
  flags: [OVERRIDE_FLAG, KINDS_FLAG, { name: "format", choices: GRAPH_FORMATS, description: "a Mermaid flowchart (default) or a Graphviz digraph" }],
  async run(args, io) {
    const { target } = registryPath(args, "graph");
    const kinds = await projectKinds(args, target);
    const registry = await checkedRegistry(target, flagValues(args, "override"), kinds, "not drawing the graph", io);
    if (!registry) return 1;
    const format = (flagValue(args, "format") ?? "mermaid") as GraphFormat;
    io.stdout(renderGraph(registryGraph(registry, createKindTable(kinds)), format));
    return 0;
  },
};
