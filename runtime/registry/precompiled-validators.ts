/**
 * @module registry/precompiled-validators — the validators of taskrt's own kinds, compiled when the
 * package is built (dist/runtime/registry/kind-validators.js, see standalone-validators.ts), so a
 * start compiles no schema. Absent when running from the sources: schemas.ts compiles them then.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ValidateFunction } from "ajv";

export interface PrecompiledValidators {
  /** SchemaSet.trustedDigest() of the schemas they were compiled from. */
  digest: string;
  validators: Record<string, ValidateFunction>;
}

const MODULE = new URL("./kind-validators.js", import.meta.url);

export const PRECOMPILED_VALIDATORS: PrecompiledValidators | undefined = existsSync(fileURLToPath(MODULE))
  ? ((await import(MODULE.href)) as { default: PrecompiledValidators }).default
  : undefined;
