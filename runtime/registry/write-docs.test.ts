import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { KINDS_DOC_PATH, README_PATH, renderKindsDoc, renderReadme } from "./write-docs.ts";

test("the README's kinds table matches the schemas (run `npm run docs` after changing a schema)", () => {
  const readme = readFileSync(README_PATH, "utf8");
  assert.equal(readme, renderReadme(readme));
});

test("docs/kinds.md matches the schemas (run `npm run docs` after changing a schema)", () => {
  assert.equal(readFileSync(KINDS_DOC_PATH, "utf8"), renderKindsDoc());
});
