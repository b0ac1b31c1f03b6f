import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createKindTable } from "../kinds/index.ts";
import { checkRegistry } from "../runtime.ts";
import { registryGraph, renderDot, renderGraph, renderMermaid, shapeOf, type RegistryGraph } from "./graph-render.ts";

const SMALL: RegistryGraph = {
  nodes: [
    { id: "app:db", kind: "db.sql.sqlite", namespace: "app" },
    { id: "app:jobs", kind: "queue.queue", namespace: "app" },
    { id: "app:a.b", kind: "function.ts", namespace: "app" },
    { id: "app:a_b", kind: "queue.consumer", namespace: "app" },
    { id: "app-x:gate", kind: "custom \"kind\"", namespace: "app-x" },
  ],
  edges: [
    { from: "app:a_b", to: "app:jobs", label: "queue" },
    { from: "app:a_b", to: "app:a.b", label: "func" },
    { from: "app-x:gate", to: "app:db", label: "requires" },
  ],
};

describe("renderMermaid", () => {
  test("draws a flowchart with a subgraph per namespace, shapes by kind, and labelled arrows; ids that read alike stay distinct", () => {
    assert.equal(
      renderMermaid(SMALL),
      [
        "flowchart LR",
        '    subgraph app["app"]',
        '        app_db[("app:db<br/>db.sql.sqlite")]',
        '        app_jobs[("app:jobs<br/>queue.queue")]',
        '        app_a_b[["app:a.b<br/>function.ts"]]',
        '        app_a_b_2(["app:a_b<br/>queue.consumer"])',
        "    end",
        '    subgraph app_x["app-x"]',
        '        app_x_gate["app-x:gate<br/>custom #34;kind#34;"]',
        "    end",
        '    app_a_b_2 -->|"queue"| app_jobs',
        '    app_a_b_2 -->|"func"| app_a_b',
        '    app_x_gate -->|"requires"| app_db',
        "",
      ].join("\n"),
    );
  });

  test("never names a node after a Mermaid keyword", () => {
    const output = renderMermaid({ nodes: [{ id: "end", kind: "x", namespace: "end" }], edges: [] });
    assert.equal(output, ['flowchart LR', '    subgraph end_2["end"]', '        end_3["end<br/>x"]', "    end", ""].join("\n"));
  });
});

describe("renderDot", () => {
  test("draws the same graph as a digraph with a cluster per namespace, quoting and escaping ids and labels", () => {
    assert.equal(
      renderDot(SMALL),
      [
        "digraph registry {",
        "    rankdir=LR;",
        '    subgraph "cluster_app" {',
        '        label="app";',
        '        "app:db" [label="app:db\\ndb.sql.sqlite", shape=cylinder];',
        '        "app:jobs" [label="app:jobs\\nqueue.queue", shape=cylinder];',
        '        "app:a.b" [label="app:a.b\\nfunction.ts", shape=component];',
        '        "app:a_b" [label="app:a_b\\nqueue.consumer", shape=box, style=rounded];',
        "    }",
        '    subgraph "cluster_app-x" {',
        '        label="app-x";',
        '        "app-x:gate" [label="app-x:gate\\ncustom \\"kind\\"", shape=box];',
        "    }",
        '    "app:a_b" -> "app:jobs" [label="queue"];',
        '    "app:a_b" -> "app:a.b" [label="func"];',
        '    "app-x:gate" -> "app:db" [label="requires"];',
        "}",
        "",
      ].join("\n"),
    );
  });

  test("renderGraph picks the renderer by format", () => {
    assert.equal(renderGraph(SMALL, "dot"), renderDot(SMALL));
    assert.equal(renderGraph(SMALL, "mermaid"), renderMermaid(SMALL));
  });
});

describe("shapeOf", () => {
  test("gives stores, drivers, code, supervised workers and everything else their own shapes", () => {
    const shapes = ["db.sql.postgres", "queue.queue", "queue.driver.amqp", "function.lua", "process.lua", "process.service", "process.host", "queue.consumer", "http.endpoint", "made.up"].map(
      (kind) => shapeOf(kind).mermaid.join(""),
    );
    assert.deepEqual(shapes, ["[()]", "[()]", "{{}}", "[[]]", "[[]]", "([])", "([])", "([])", "[]", "[]"]);
  });
});

describe("registryGraph", () => {
  test("has every entry in registry order and one edge per referrer, target and field, lifecycle prefix and list index dropped", async () => {
    const { registry } = await checkRegistry({ path: "test/fixtures/cli/inspect" });
    const graph = registryGraph(registry, createKindTable());
    assert.deepEqual(
      graph.nodes.map((node) => `${node.namespace} ${node.id} ${node.kind}`),
      [
        "shop shop:db db.sql.sqlite",
        "shop shop:driver queue.driver.memory",
        "shop shop:orders queue.queue",
        "shop shop:dead queue.queue",
        "shop shop:work function.ts",
        "shop shop:worker queue.consumer",
        "shop shop:idle http.service",
        "ops ops:gateway http.service",
        "ops ops:router http.router",
        "ops ops:ping.endpoint http.endpoint",
      ],
    );
    assert.deepEqual(
      graph.edges.map((edge) => `${edge.from} -${edge.label}-> ${edge.to}`),
      [
        "shop:orders -driver-> shop:driver",
        "shop:orders -dead_letter-> shop:dead",
        "shop:dead -driver-> shop:driver",
        "shop:worker -queue-> shop:orders",
        "shop:worker -func-> shop:work",
        "shop:worker -requires-> shop:db",
        "ops:router -meta.server-> ops:gateway",
        "ops:ping.endpoint -meta.router-> ops:router",
        "ops:ping.endpoint -func-> shop:work",
      ],
    );
  });
});
