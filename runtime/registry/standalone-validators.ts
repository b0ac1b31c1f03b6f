/**
 * @module registry/standalone-validators — writes the validators of a schema set's trusted kinds as
 * one ES module of plain JavaScript (Ajv's standalone code), which `npm run build` saves as
 * dist/runtime/registry/kind-validators.js for precompiled-validators.ts to import.
 */
import standaloneCodeModule from "ajv/dist/standalone/index.js";
import type { SchemaSet } from "./schemas.ts";

// ajv's standalone entry is CommonJS: under NodeNext its default import is the module object.
const standaloneCode = ((standaloneCodeModule as unknown as { default?: typeof standaloneCodeModule }).default ?? standaloneCodeModule) as unknown as (
  ajv: unknown,
  refs: Record<string, string>,
) => string;

export function writeStandaloneValidators(schemas: SchemaSet, kinds: readonly string[]): string {
  const ajv = schemas.createAjv({ source: true, esm: true });
  const refs: Record<string, string> = {};
  kinds.forEach((kind, index) => {
    const id = schemas.kind(kind)?.$id;
    if (!id) throw new Error(`internal: schema ${kind} has no $id`);
    refs[`kind${index}`] = id;
  });
  // Ajv's code requires its runtime helpers (ucs2length, equal) by package name.
  const code = standaloneCode(ajv, refs).replace(/\brequire\(/g, "kindValidatorsRequire(");
  return [
    `import { createRequire } from "node:module";`,
    `import { withinDuration } from "./duration-limit.js";`,
    `const kindValidatorsRequire = createRequire(import.meta.url);`,
    code,
    `export default { digest: ${JSON.stringify(schemas.trustedDigest())}, validators: { ${kinds.map((kind, index) => `${JSON.stringify(kind)}: kind${index}`).join(", ")} } };`,
    "",
  ].join("\n");
}
