import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { closestMatches, didYouMean, editDistance } from "./suggest.ts";

describe("editDistance", () => {
  test("counts insertions, deletions, substitutions, and a swap of neighbours as one", () => {
    assert.equal(editDistance("concurency", "concurrency"), 1);
    assert.equal(editDistance("prefecth", "prefetch"), 1);
    assert.equal(editDistance("kind", "kind"), 0);
    assert.equal(editDistance("", "abc"), 3);
    assert.equal(editDistance("queue", "driver"), 5);
  });
});

describe("closestMatches", () => {
  test("keeps close candidates, closest first, and drops far ones", () => {
    assert.deepEqual(closestMatches("concurency", ["concurrency", "prefetch", "queue"]), ["concurrency"]);
    assert.deepEqual(closestMatches("app:taks", ["app:tasks", "app:task", "app:db"]), ["app:task", "app:tasks"]);
    assert.deepEqual(closestMatches("zzz", ["concurrency", "queue"]), []);
  });

  test("ignores case, the input itself, and counts containing the input as close", () => {
    assert.deepEqual(closestMatches("Queue", ["queue"]), ["queue"]);
    assert.deepEqual(closestMatches("queue", ["queue"]), []);
    assert.deepEqual(closestMatches("tasks", ["app:tasks_queue", "app:db"]), ["app:tasks_queue"]);
  });
});

describe("didYouMean", () => {
  test("phrases one or several suggestions, quoted or not, and nothing when none is close", () => {
    assert.equal(didYouMean("concurency", ["concurrency"]), 'did you mean "concurrency"?');
    assert.equal(didYouMean("app:db1", ["app:db", "app:db2", "app:x"], false), "did you mean app:db or app:db2?");
    assert.equal(didYouMean("ab", ["ax", "ay", "az", "aw"], false), "did you mean aw, ax or ay?");
    assert.equal(didYouMean("nothing", ["alike"]), undefined);
  });
});
