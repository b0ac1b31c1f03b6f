import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ValidateFunction } from "ajv";
import { projectSchemas, readSchemaDirectory, SCHEMAS_DIRECTORY, SchemaSet } from "./schemas.ts";
import { writeStandaloneValidators } from "./standalone-validators.ts";

const TMP = fileURLToPath(new URL("../../test/tmp/", import.meta.url));

/** The module `npm run build` writes, imported from a folder where its package imports resolve. */
async function importStandalone(schemas: SchemaSet): Promise<{ digest: string; validators: Record<string, ValidateFunction> }> {
  mkdirSync(TMP, { recursive: true });
  const folder = mkdtempSync(path.join(TMP, "standalone-"));
  try {
    const file = path.join(folder, "kind-validators.mjs");
    const durationLimit = pathToFileURL(fileURLToPath(new URL("./duration-limit.ts", import.meta.url))).href;
    writeFileSync(file, writeStandaloneValidators(schemas, schemas.kinds()).replace('"./duration-limit.js"', JSON.stringify(durationLimit)));
    return ((await import(pathToFileURL(file).href)) as { default: { digest: string; validators: Record<string, ValidateFunction> } }).default;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** Entries with the mistakes validation reports: wrong types, enums, ranges, patterns, durations over the limit, missing fields. */
const SAMPLES: Record<string, unknown>[] = [
  { name: "db", kind: "db.sql.sqlite", file: 12, synchronous: "SOMETIMES" },
  { name: "db", kind: "db.sql.sqlite", file: "x.db" },
  { name: "q", kind: "queue.queue", driver: "x:d", max_attempts: -1, backoff: { initial: "99999999h", factor: "two" } },
  { name: "c", kind: "queue.consumer", queue: "x:q", func: "x:f", concurrency: 0, lifecycle: { stop_timeout: "forever", auto_start: "yes" } },
  { name: "f", kind: "function.ts", method: 3 },
  { name: "s", kind: "http.service", addr: 8080, lifecycle: { start_timeout: "9999999h" } },
  { name: "e", kind: "http.endpoint", method: "FETCH", path: "tasks", func: "x:f", meta: { router: 1 } },
  { name: "p", kind: "db.sql.postgres", pool: { max: "lots" } },
  { name: "bad name!", kind: "queue.schedule" },
];

test("the validators compiled at build time report exactly what the ones compiled at start do, and fill the same defaults", async () => {
  const compiled = projectSchemas();
  const standalone = await importStandalone(compiled);
  assert.equal(standalone.digest, compiled.trustedDigest());
  for (const sample of SAMPLES) {
    const kind = String(sample.kind);
    const [left, right] = [structuredClone(sample), structuredClone(sample)];
    const expected = compiled.validator(kind)!;
    const actual = standalone.validators[kind]!;
    assert.equal(actual(right), expected(left), kind);
    assert.deepEqual(actual.errors, expected.errors, kind);
    assert.deepEqual(right, left, `${kind}: defaults`);
  }
});

test("a schema set whose schemas differ from the build's has another digest, so start compiles its own validators", () => {
  const schemas = readSchemaDirectory(SCHEMAS_DIRECTORY);
  const built = new SchemaSet(schemas, new Set(schemas.keys()));
  const changed = new Map(schemas);
  changed.set("queue.queue", { ...schemas.get("queue.queue")!, description: "edited after the build" });
  assert.notEqual(new SchemaSet(changed, new Set(changed.keys())).trustedDigest(), built.trustedDigest());
});
