/**
 * @module registry/write-docs — regenerates what is derived from the schemas: the README's kinds
 * table, `docs/kinds.md` and `schemas/manifest.json`. `npm run docs`; a test keeps them current.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderKindsSummary, renderKindsTable } from "./kinds-table.ts";
import { MANIFEST_PATH, renderManifestSchema } from "./manifest-schema.ts";

export const README_PATH = fileURLToPath(new URL("../../README.md", import.meta.url));
export const KINDS_DOC_PATH = fileURLToPath(new URL("../../docs/kinds.md", import.meta.url));
export const KINDS_START = "<!-- kinds:start -->";
export const KINDS_END = "<!-- kinds:end -->";

export function renderKindsDoc(): string {
  return `# Kinds reference\n\nEvery field of every kind, with its default and limits, from \`schemas/\`.\n\n${renderKindsTable()}`;
}

/** The README with its kinds section replaced by the current table. */
export function renderReadme(readme: string): string {
  const start = readme.indexOf(KINDS_START);
  const end = readme.indexOf(KINDS_END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${KINDS_START} … ${KINDS_END} section`);
  return `${readme.slice(0, start + KINDS_START.length)}\n${renderKindsSummary()}${readme.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(README_PATH, renderReadme(readFileSync(README_PATH, "utf8")));
  writeFileSync(KINDS_DOC_PATH, renderKindsDoc());
  writeFileSync(MANIFEST_PATH, renderManifestSchema());
  console.log("wrote README.md (kinds table), docs/kinds.md, schemas/manifest.json");
}
