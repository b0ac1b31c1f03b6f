import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { TaskrtError } from "../errors.ts";
import { createKindTable } from "../kinds/index.ts";
import { checkRegistry } from "../runtime.ts";
import type { Registry } from "./entry.ts";
import { inspectEntry, referenceEdges, summarizeEntries } from "./inspect.ts";

const FIXTURE = "test/fixtures/cli/inspect";
const kinds = createKindTable();
let registry: Registry;

before(async () => {
  const checked = await checkRegistry({ path: FIXTURE });
  assert.deepEqual(checked.problems, []);
  registry = checked.registry;
});

describe("referenceEdges", () => {
  test("lists every reference as a full id with the field it is written in, list items one by one", () => {
    assert.deepEqual(
      referenceEdges(registry, kinds).filter((edge) => edge.from === "shop:worker"),
      [
        { from: "shop:worker", to: "shop:orders", field: "queue", path: ["queue"] },
        { from: "shop:worker", to: "shop:work", field: "func", path: ["func"] },
        { from: "shop:worker", to: "shop:db", field: "lifecycle.requires[0]", path: ["lifecycle", "requires", 0] },
        { from: "shop:worker", to: "shop:db", field: "lifecycle.requires[1]", path: ["lifecycle", "requires", 1] },
      ],
    );
  });
});

describe("summarizeEntries", () => {
  test("gives each entry its kind, where it is defined, and what it refers to", () => {
    const summaries = summarizeEntries(registry, kinds);
    assert.equal(summaries.length, 10);
    assert.deepEqual(summaries[2], {
      id: "shop:orders",
      kind: "queue.queue",
      location: { file: path.resolve(FIXTURE, "_index.yaml"), line: 15, column: 5 },
      references: [
        { field: "driver", target: "shop:driver" },
        { field: "dead_letter", target: "shop:dead" },
      ],
    });
    assert.deepEqual(summaries[0].references, []);
  });
});

describe("inspectEntry", () => {
  test("shows data with the schema's defaults and references as full ids, leaving the registry untouched", () => {
    const detail = inspectEntry(registry, kinds, "shop:orders");
    const entry = registry.byId.get("shop:orders")!;
    const expected: Record<string, unknown> = { ...entry.data, driver: "shop:driver", dead_letter: "shop:dead" };
    assert.deepEqual(detail.data, expected);
    assert.equal(detail.data.max_attempts, 5, "a default the YAML does not write");
    assert.equal(entry.data.driver, "driver", "the entry itself keeps what was written");
    assert.deepEqual(detail.references, [
      { field: "driver", target: "shop:driver", kind: "queue.driver.memory" },
      { field: "dead_letter", target: "shop:dead", kind: "queue.queue" },
    ]);
    assert.deepEqual(detail.referenced_by, [{ id: "shop:worker", field: "queue" }]);
    assert.deepEqual(detail.lifecycle, { service: false });
  });

  test("resolves references held in meta, across namespaces too", () => {
    const detail = inspectEntry(registry, kinds, "ops:ping.endpoint");
    assert.deepEqual(detail.meta, { router: "ops:router" });
    assert.equal(detail.data.func, "shop:work");
    assert.deepEqual(inspectEntry(registry, kinds, "shop:work").referenced_by, [
      { id: "shop:worker", field: "func" },
      { id: "ops:ping.endpoint", field: "func" },
    ]);
  });

  test("an auto-started service lists what it requires and every service it waits for", () => {
    const detail = inspectEntry(registry, kinds, "shop:worker");
    assert.deepEqual((detail.data.lifecycle as { requires: string[] }).requires, ["shop:db", "shop:db"], "list items resolved one by one");
    assert.deepEqual(detail.lifecycle, {
      service: true,
      auto_start: true,
      requires: ["shop:db"],
      starts_after: ["shop:db", "shop:driver"],
      starts_at_boot: true,
      needed_by: [],
    });
  });

  test("a service without auto_start starts when an auto-started one needs it, even through a plain entry", () => {
    assert.deepEqual(inspectEntry(registry, kinds, "shop:driver").lifecycle, {
      service: true,
      auto_start: false,
      requires: [],
      starts_after: [],
      starts_at_boot: true,
      needed_by: ["shop:worker"],
    });
  });

  test("a service nothing auto-started needs does not start at boot", () => {
    const lifecycle = inspectEntry(registry, kinds, "shop:idle").lifecycle;
    assert.equal(lifecycle.service && lifecycle.starts_at_boot, false);
  });

  test("an unknown id is an E_ENTRY_NOT_FOUND suggesting the closest ids", () => {
    assert.throws(
      () => inspectEntry(registry, kinds, "shop:wroker"),
      (error: unknown) => error instanceof TaskrtError && error.code === "E_ENTRY_NOT_FOUND" && error.message === "no entry shop:wroker" && error.hint === 'did you mean "shop:worker", "shop:driver" or "shop:work"?',
    );
  });

  test("an unknown id with nothing close says what an id looks like", () => {
    assert.throws(() => inspectEntry(registry, kinds, "nothing:here"), {
      code: "E_ENTRY_NOT_FOUND",
      message: "no entry nothing:here",
      hint: "an id is namespace:name; list them all by leaving the id out",
    });
  });
});
