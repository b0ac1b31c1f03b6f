import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fixtureKinds, REGISTRY_FIXTURES as FIXTURES } from "../../test/support/registry.ts";
import { loadRegistry } from "./load.ts";
import { dependencyClosure, dependencyGraph, entryReferences, fieldName, findCycles, readField, topologicalOrder } from "./graph.ts";

const graphOf = (edges: Record<string, string[]>): Map<string, Set<string>> =>
  new Map(Object.entries(edges).map(([node, dependencies]) => [node, new Set(dependencies)]));

describe("dependencyGraph", () => {
  test("each entry depends on what its reference fields and lifecycle requires name, bare names in its namespace", async () => {
    const { registry } = await loadRegistry(join(FIXTURES, "valid"));
    const graph = dependencyGraph(registry, fixtureKinds());
    assert.deepEqual(
      Object.fromEntries([...graph].map(([id, dependencies]) => [id, [...dependencies].sort()])),
      {
        "app:db": [],
        "app:driver": [],
        "app:tasks": ["app:driver"],
        "app:handler": [],
        "app:worker": ["app:db", "app:handler", "app:tasks"],
        "app:gateway": [],
        "app:api": ["app:gateway"],
        "app:create": ["app:api", "app:handler"],
      },
    );
  });

  test("references to ids that do not exist are left out", async () => {
    const { registry } = await loadRegistry(join(FIXTURES, "refs"));
    const graph = dependencyGraph(registry, fixtureKinds());
    assert.deepEqual([...graph.get("app:db")!], ["app:handler"]);
    assert.deepEqual([...graph.get("app:dlq")!], ["app:db"]);
  });
});

describe("entryReferences", () => {
  test("lists each id with its path, list index included, and skips values that are not strings", async () => {
    const { registry } = await loadRegistry(join(FIXTURES, "refs"));
    const db = registry.byId.get("app:db")!;
    (db.data.lifecycle as { requires: unknown[] }).requires.push(42, "");
    assert.deepEqual(
      entryReferences(db, fixtureKinds().get("db.sql.sqlite")).map((use) => [use.field, use.written, use.target, use.service]),
      [
        ["lifecycle.requires[0]", "handler", "app:handler", true],
        ["lifecycle.requires[1]", "app:ghost", "app:ghost", true],
        ["lifecycle.depends_on[0]", "app:dbx", "app:dbx", true],
      ],
    );
    const dlq = registry.byId.get("app:dlq")!;
    assert.deepEqual(
      entryReferences(dlq, fixtureKinds().get("queue.queue")).map((use) => [use.path, use.target, use.kinds]),
      [
        [["driver"], "other.ns:driver", ["queue.driver.*"]],
        [["dead_letter", "queue"], "app:db", ["queue.queue"]],
      ],
    );
  });

  test("meta paths read the entry's meta, other paths its data", async () => {
    const { registry } = await loadRegistry(join(FIXTURES, "valid"));
    const api = registry.byId.get("app:api")!;
    assert.equal(readField(api, ["meta", "server"]), "gateway");
    assert.equal(readField(api, ["prefix"]), "/api");
    assert.equal(readField(api, ["prefix", "deeper"]), undefined);
    assert.equal(fieldName(["lifecycle", "requires", 2]), "lifecycle.requires[2]");
  });
});

describe("findCycles", () => {
  test("an acyclic graph has none", () => {
    assert.deepEqual(findCycles(graphOf({ a: ["b"], b: ["c"], c: [] })), []);
  });

  test("each loop is reported once, from its smallest id, along the edges", () => {
    const graph = graphOf({ c: ["a"], a: ["b"], b: ["c"], x: ["y"], y: ["x"], z: ["a"] });
    assert.deepEqual(findCycles(graph), [
      ["a", "b", "c"],
      ["x", "y"],
    ]);
  });

  test("an entry depending on itself is a cycle of one", () => {
    assert.deepEqual(findCycles(graphOf({ a: ["a"], b: [] })), [["a"]]);
  });

  test("of several loops through the same entries, the shortest from the smallest id is named", () => {
    const graph = graphOf({ a: ["d", "b"], b: ["c"], c: ["a"], d: ["a"] });
    assert.deepEqual(findCycles(graph), [["a", "d"]]);
  });
});

describe("topologicalOrder", () => {
  test("dependencies come first, level by level, ids sorted within a level", async () => {
    const { registry } = await loadRegistry(join(FIXTURES, "valid"));
    assert.deepEqual(topologicalOrder(dependencyGraph(registry, fixtureKinds())), [
      "app:db",
      "app:driver",
      "app:gateway",
      "app:handler",
      "app:api",
      "app:tasks",
      "app:create",
      "app:worker",
    ]);
  });

  test("entries caught in a cycle, and what waits on them, come last in id order", () => {
    const graph = graphOf({ b: ["a"], a: ["b"], c: [], d: ["a"], e: ["c"] });
    assert.deepEqual(topologicalOrder(graph), ["c", "e", "a", "b", "d"]);
  });
});

describe("dependencyClosure", () => {
  test("holds the roots and everything they need, transitively, and nothing else", () => {
    const graph = graphOf({ a: ["b"], b: ["c"], c: [], d: ["a"], e: [] });
    assert.deepEqual([...dependencyClosure(graph, ["a"])].sort(), ["a", "b", "c"]);
    assert.deepEqual([...dependencyClosure(graph, ["d", "e"])].sort(), ["a", "b", "c", "d", "e"]);
    assert.deepEqual([...dependencyClosure(graph, [])], []);
  });
});
