import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { REGISTRY_FIXTURES as FIXTURES } from "../../test/support/registry.ts";
import { buildManifestSchema, MANIFEST_PATH, renderManifestSchema } from "./manifest-schema.ts";

function manifestValidator() {
  // A fresh, non-Ajv-specific reading: strict off, as editors are lenient about unknown keywords.
  const ajv = new Ajv({ allErrors: true, strict: false });
  return ajv.compile(buildManifestSchema());
}
const check = (text: string): string[] => {
  const validate = manifestValidator();
  return validate(parse(text)) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`);
};

describe("schemas/manifest.json", () => {
  test("the committed file is what the generator writes (run: node --import tsx runtime/registry/manifest-schema.ts)", () => {
    assert.equal(readFileSync(MANIFEST_PATH, "utf8"), renderManifestSchema());
  });

  test("is self-contained: every $ref points inside the file", () => {
    const references = [...renderManifestSchema().matchAll(/"\$ref": "([^"]*)"/g)].map((match) => match[1]);
    assert.ok(references.length > 0);
    for (const reference of references) assert.match(reference, /^#\/definitions\//);
  });

  test("accepts a valid registry file, with fields at the top or under data:", () => {
    assert.deepEqual(check(readFileSync(join(FIXTURES, "valid", "_index.yaml"), "utf8")), []);
    assert.deepEqual(check("namespace: app\nentries:\n  - name: w\n    kind: queue.consumer\n    data: { queue: app:q, func: app:f }\n"), []);
  });

  test("accepts the single-entry form and an endpoint whose router comes from file-level meta", () => {
    assert.deepEqual(check(readFileSync(join(FIXTURES, "single", "worker.yaml"), "utf8")), []);
    assert.deepEqual(check("namespace: app\nmeta: { router: app:api }\nentries:\n  - { name: e, kind: http.endpoint, method: GET, path: /x, func: app:f }\n"), []);
  });

  test("rejects out-of-range values, missing fields, unknown kinds and a file without namespace", () => {
    const entry = (body: string): string => `namespace: app\nentries:\n  - ${body}\n`;
    assert.ok(check(entry("{ name: w, kind: queue.consumer, queue: q, func: f, concurrency: 5000 }")).includes("/entries/0/concurrency must be <= 1000"));
    assert.ok(check(entry("{ name: w, kind: queue.consumer, queue: q }")).includes("/entries/0 must have required property 'func'"));
    assert.ok(check(entry("{ name: w, kind: queue.consumer, data: { queue: q } }")).includes("/entries/0/data must have required property 'func'"));
    assert.ok(check(entry("{ name: w, kind: queue.consumr }")).includes("/entries/0/kind must be equal to one of the allowed values"));
    assert.ok(check(entry("{ name: d, kind: db.sql.sqlite, file: x, lifecycle: { restart: { jitter: 2 } } }")).includes("/entries/0/lifecycle/restart/jitter must be <= 1"));
    assert.ok(check("entries: []\n").includes(" must have required property 'namespace'"));
  });
});
