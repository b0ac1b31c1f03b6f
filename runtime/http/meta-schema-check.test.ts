import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ErrorObject } from "ajv/dist/2020.js";
import { COMPILE_OPTIONS, createRequestAjv, metaSchemaProblem, writeStandaloneMetaValidator, type CompileVariant } from "./meta-schema-check.ts";

const TMP = fileURLToPath(new URL("../../test/tmp/", import.meta.url));

type Validator = ((schema: unknown) => boolean) & { errors?: ErrorObject[] | null };

async function importStandalone(variant: CompileVariant): Promise<Validator> {
  mkdirSync(TMP, { recursive: true });
  const folder = mkdtempSync(path.join(TMP, "meta-schema-"));
  try {
    const file = path.join(folder, "meta-schema.mjs");
    writeFileSync(file, writeStandaloneMetaValidator(variant));
    return ((await import(pathToFileURL(file).href)) as { validate: Validator }).validate;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

const SCHEMAS: unknown[] = [
  { type: "object", properties: { a: { type: "string", minLength: 1 } }, required: ["a"] },
  { type: "nope", properties: { a: { minimum: "3" } } },
  { type: [1], items: { enum: "x" } },
  { type: "object", properties: { n: { type: "integer", minimum: "x" } }, additionalProperties: 3 },
  { $defs: { x: { $dynamicAnchor: 4 } }, allOf: {} },
];

test("the meta-schema validators compiled at build time report exactly what Ajv's own check does, for both ways of compiling", async () => {
  for (const variant of Object.keys(COMPILE_OPTIONS) as CompileVariant[]) {
    const standalone = await importStandalone(variant);
    const ajv = createRequestAjv(variant);
    for (const schema of SCHEMAS) {
      const [left, right] = [structuredClone(schema), structuredClone(schema)];
      const valid = ajv.validateSchema(left as object) as boolean;
      assert.equal(standalone(right), valid, `${variant}: ${JSON.stringify(schema)}`);
      assert.deepEqual(standalone.errors ?? null, ajv.errors ?? null, `${variant}: ${JSON.stringify(schema)}`);
      assert.deepEqual(right, left);
    }
  }
});

test("a schema that is not valid JSON Schema is reported in Ajv's words", () => {
  assert.equal(metaSchemaProblem({ type: "object" }, "plain"), undefined);
  assert.equal(
    metaSchemaProblem({ type: [1] }, "plain"),
    "schema is invalid: data/type must be equal to one of the allowed values, data/type/0 must be equal to one of the allowed values, data/type must match a schema in anyOf",
  );
});
