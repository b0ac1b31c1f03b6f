/**
 * @module http/request-validator-cache — an endpoint's schemas compiled once, not at every start:
 * Ajv's standalone code for a schema is kept in the build cache (`node_modules/.cache/taskrt/`),
 * named by a hash of the schema, the compile variant and Ajv's version, and required from there on
 * later starts. Compiling request schemas was a fifth of start-up's CPU time.
 *
 * The file's first line holds the hash of the rest: a truncated or edited file is compiled again.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { AnySchema, ValidateFunction } from "ajv/dist/2020.js";
import standaloneCodeModule from "ajv/dist/standalone/index.js";
import { cacheDirectory, contentHash } from "../registry/build-cache.ts";
import { createRequestAjv, type CompileVariant } from "./meta-schema-check.ts";

// ajv's standalone entry is CommonJS: under NodeNext its default import is the module object.
const standaloneCode = ((standaloneCodeModule as unknown as { default?: typeof standaloneCodeModule }).default ?? standaloneCodeModule) as unknown as (
  ajv: unknown,
  validate: ValidateFunction,
) => string;

const requireHere = createRequire(import.meta.url);

/** Schemas read from the cache and compiled, in this process: observable by tests and in the debug log. */
export const requestValidatorCacheStats = { hits: 0, misses: 0 };
/** Bumped when the file's layout changes. */
const FORMAT = 1;

let ajvVersionCache: string | undefined;

function ajvVersion(): string {
  ajvVersionCache ??= String((requireHere("ajv/package.json") as { version?: unknown }).version);
  return ajvVersionCache;
}

/**
 * `schema` compiled for `variant`: from the cache when it holds it, else compiled by Ajv and stored.
 * The caller has checked the schema against the meta-schema; Ajv's own errors are thrown as they are.
 */
export function cachedRequestValidator(schema: AnySchema, variant: CompileVariant, directory = cacheDirectory(process.cwd())): ValidateFunction {
  const key = `${FORMAT}\0${ajvVersion()}\0${variant}\0${JSON.stringify(schema)}`;
  const file = path.join(directory, `request-schema-${contentHash(key)}.cjs`);
  const cached = loadCached(file);
  if (cached) {
    requestValidatorCacheStats.hits++;
    return cached;
  }
  requestValidatorCacheStats.misses++;
  const ajv = createRequestAjv(variant, { validateSchema: false, code: { source: true } });
  const validate = ajv.compile(schema);
  store(file, standaloneCode(ajv, validate));
  return validate;
}

function loadCached(file: string): ValidateFunction | undefined {
  try {
    const text = readFileSync(file, "utf8");
    const newline = text.indexOf("\n");
    if (text.slice(0, newline) !== `// ${contentHash(text.slice(newline + 1))}`) return undefined;
    const validate = requireHere(file) as unknown;
    return typeof validate === "function" ? (validate as ValidateFunction) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Ajv's code requires its runtime helpers (and ajv-formats' formats) by package name: they resolve
 * from taskrt's folder, wherever the cache is, through a `require` passed in (the code is not edited).
 */
function store(file: string, code: string): void {
  const body = [
    `const { createRequire } = require("node:module");`,
    `const validatorModule = { exports: {} };`,
    `(function (require, module, exports) {`,
    code,
    `})(createRequire(${JSON.stringify(import.meta.url)}), validatorModule, validatorModule.exports);`,
    `module.exports = validatorModule.exports;`,
    "",
  ].join("\n");
  try {
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, `// ${contentHash(body)}\n${body}`);
    renameSync(partial, file);
  } catch {
    // Not cached: the next start compiles it again.
  }
}
