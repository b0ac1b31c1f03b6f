/**
 * @module http/meta-schema-check — checks an endpoint's schema against JSON Schema 2020-12's
 * meta-schema, in Ajv's words. Compiling the meta-schema costs more than compiling the schemas it
 * checks, so `npm run build` compiles it ahead of time (dist/runtime/http/meta-schema-*.js, Ajv
 * standalone code); from the sources, or should those files be missing, Ajv compiles it once.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv2020, type ErrorObject, type Options } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import standaloneCodeModule from "ajv/dist/standalone/index.js";

/** How an endpoint's schema is compiled: a body as is, query parameters coerced from strings. */
export const COMPILE_OPTIONS = { plain: {}, coercing: { coerceTypes: "array" } } as const satisfies Record<string, Options>;
export type CompileVariant = keyof typeof COMPILE_OPTIONS;

const META_SCHEMA_ID = "https://json-schema.org/draft/2020-12/schema";

// ajv-formats and ajv's standalone entry are CommonJS: under NodeNext a default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;
const standaloneCode = ((standaloneCodeModule as unknown as { default?: typeof standaloneCodeModule }).default ?? standaloneCodeModule) as unknown as (
  ajv: Ajv2020,
  refs: Record<string, string>,
) => string;

export function createRequestAjv(variant: CompileVariant, options: Options = {}): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: false, logger: false, ...COMPILE_OPTIONS[variant], ...options });
  addFormats(ajv);
  return ajv;
}

type MetaValidator = ((schema: unknown) => boolean) & { errors?: ErrorObject[] | null };

const validators = new Map<CompileVariant, MetaValidator>();

/** Undefined when `schema` is a valid JSON Schema; otherwise the words Ajv's own check throws. */
export function metaSchemaProblem(schema: unknown, variant: CompileVariant): string | undefined {
  let validate = validators.get(variant);
  if (!validate) {
    validate = PRECOMPILED[variant] ?? (createRequestAjv(variant).getSchema(META_SCHEMA_ID) as MetaValidator);
    validators.set(variant, validate);
  }
  if (validate(schema)) return undefined;
  // Ajv's errorsText, with its defaults.
  return `schema is invalid: ${(validate.errors ?? []).map((error) => `data${error.instancePath} ${error.message}`).join(", ")}`;
}

/** The meta-schema validator of `variant` as an ES module, for `npm run build`. */
export function writeStandaloneMetaValidator(variant: CompileVariant): string {
  const code = standaloneCode(createRequestAjv(variant, { code: { source: true, esm: true } }), { validate: META_SCHEMA_ID });
  // Ajv's code requires its runtime helpers by package name.
  return [`import { createRequire } from "node:module";`, `const metaRequire = createRequire(import.meta.url);`, code.replace(/\brequire\(/g, "metaRequire("), ""].join("\n");
}

export function standaloneMetaValidatorFile(variant: CompileVariant): string {
  return `meta-schema-${variant}.js`;
}

async function importPrecompiled(variant: CompileVariant): Promise<MetaValidator | undefined> {
  const url = new URL(`./${standaloneMetaValidatorFile(variant)}`, import.meta.url);
  if (!existsSync(fileURLToPath(url))) return undefined;
  return ((await import(url.href)) as { validate: MetaValidator }).validate;
}

const PRECOMPILED: Record<CompileVariant, MetaValidator | undefined> = {
  plain: await importPrecompiled("plain"),
  coercing: await importPrecompiled("coercing"),
};
