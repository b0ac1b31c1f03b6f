import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { cachedRequestValidator, requestValidatorCacheStats } from "./request-validator-cache.ts";

const CACHE = mkdtempSync(path.join(tmpdir(), "taskrt-request-validators-"));
after(() => rmSync(CACHE, { recursive: true, force: true }));

const BODY = {
  type: "object",
  properties: { email: { type: "string", format: "email" }, tags: { type: "array", items: { type: "string" }, uniqueItems: true } },
  required: ["email"],
  additionalProperties: false,
};

function counted<T>(run: () => T): { value: T; hits: number; misses: number } {
  const before = { ...requestValidatorCacheStats };
  const value = run();
  return { value, hits: requestValidatorCacheStats.hits - before.hits, misses: requestValidatorCacheStats.misses - before.misses };
}

test("a schema compiled once is read from the cache and validates as Ajv's own validator does", () => {
  const first = counted(() => cachedRequestValidator(BODY, "plain", CACHE));
  assert.deepEqual([first.hits, first.misses], [0, 1]);
  const second = counted(() => cachedRequestValidator(BODY, "plain", CACHE));
  assert.deepEqual([second.hits, second.misses], [1, 0]);

  for (const validate of [first.value, second.value]) {
    assert.equal(validate({ email: "a@example.com", tags: ["x", "y"] }), true);
    // Formats (ajv-formats) and runtime helpers (deep equality) work in the cached code too.
    assert.equal(validate({ email: "not an address", tags: ["x", "x"], extra: 1 }), false);
    assert.deepEqual(validate.errors!.map((error) => error.keyword).sort(), ["additionalProperties", "format", "uniqueItems"]);
  }
});

test("the coercing variant is cached apart and still coerces query strings", () => {
  const query = { type: "object", properties: { limit: { type: "integer", minimum: 1 } } };
  const plain = cachedRequestValidator(query, "plain", CACHE);
  const coercing = cachedRequestValidator(query, "coercing", CACHE);
  const again = counted(() => cachedRequestValidator(query, "coercing", CACHE));
  assert.equal(again.hits, 1);
  assert.equal(plain({ limit: "10" }), false);
  for (const validate of [coercing, again.value]) {
    const parameters = { limit: "10" };
    assert.equal(validate(parameters), true);
    assert.deepEqual(parameters, { limit: 10 });
  }
});

test("a damaged cache file is compiled again", () => {
  const schema = { type: "object", properties: { name: { type: "string", minLength: 2 } } };
  cachedRequestValidator(schema, "plain", CACHE);
  const before = new Set(readdirSync(CACHE));
  for (const name of before) writeFileSync(path.join(CACHE, name), "module.exports = () => true;");
  const rebuilt = counted(() => cachedRequestValidator(schema, "plain", CACHE));
  assert.deepEqual([rebuilt.hits, rebuilt.misses], [0, 1]);
  assert.equal(rebuilt.value({ name: "x" }), false);
});
