import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Entry, Registry } from "../registry/entry.ts";
import { isReloadingChange, registryFiles } from "./watched-files.ts";

const directory = mkdtempSync(path.join(tmpdir(), "taskrt-watched-files-"));
after(() => rmSync(directory, { recursive: true, force: true }));

function entry(id: string, file: string, data: Record<string, unknown>): Entry {
  const [namespace, name] = id.split(":");
  const location = { file, line: 1, column: 1 };
  return { id, namespace, name, kind: "function.ts", meta: {}, data, file, location, locate: () => location };
}

function registry(root: string, ...entries: Entry[]): Registry {
  return { root, entries, byId: new Map(entries.map((item) => [item.id, item])) };
}

describe("registryFiles", () => {
  test("lists the path given, the files that declared entries and every absolute file:// an entry names, once each (a relative one is data)", () => {
    const index = path.join(directory, "_index.yaml");
    const more = path.join(directory, "api", "more.yaml");
    writeFileSync(index, "");
    const files = registryFiles(
      registry(
        directory,
        entry("app:one", index, { source: `file://${directory}/one.ts`, method: "main" }),
        entry("app:two", more, {
          source: `file://${directory}/one.ts`,
          request: { body: `file://${directory}/schemas/body.json` },
          list: ["file:///elsewhere/x.lua", "plain", "file://relative/data.csv"],
        }),
      ),
      index,
    );
    assert.deepEqual(files.sort(), [`${directory}/_index.yaml`, `${directory}/api/more.yaml`, `${directory}/one.ts`, `${directory}/schemas/body.json`, "/elsewhere/x.lua"].sort());
  });

  test("adds wippy.lock when the project has one, and not a directory given as the path", () => {
    const project = mkdtempSync(path.join(directory, "project-"));
    writeFileSync(path.join(project, "wippy.lock"), "directories:\n  src: .\n");
    assert.deepEqual(registryFiles(registry(project), project), [path.join(project, "wippy.lock")]);
  });

  test("adds the project files a handler imports, transitively and in any folder, but not packages", () => {
    const project = mkdtempSync(path.join(directory, "graph-"));
    mkdirSync(path.join(project, "lib", "deep"), { recursive: true });
    writeFileSync(path.join(project, "handler.ts"), `import { a } from "./lib/a.ts";\nimport YAML from "yaml";\nimport { sql } from "taskrt";\nexport const main = () => [a, YAML, sql];\n`);
    writeFileSync(path.join(project, "lib", "a.ts"), `export { b as a } from "./deep/b.ts";\n`);
    writeFileSync(path.join(project, "lib", "deep", "b.ts"), `export const b = 1;\n`);
    const files = registryFiles(registry(project, entry("app:one", path.join(project, "_index.yaml"), { source: `file://${project}/handler.ts` })), project);
    assert.deepEqual(files.sort(), [`${project}/_index.yaml`, `${project}/handler.ts`, `${project}/lib/a.ts`, `${project}/lib/deep/b.ts`]);
  });

  test("a handler that does not parse is watched alone, so saving a fix reloads", () => {
    const project = mkdtempSync(path.join(directory, "broken-"));
    writeFileSync(path.join(project, "handler.ts"), `export function main( {\n`);
    const files = registryFiles(registry(project, entry("app:one", path.join(project, "_index.yaml"), { source: `file://${project}/handler.ts` })), project);
    assert.deepEqual(files.sort(), [`${project}/_index.yaml`, `${project}/handler.ts`]);
  });
});

describe("isReloadingChange", () => {
  const known = new Set(["/app/Makefile"]);

  test("reloads for a known file, whatever its name", () => {
    assert.equal(isReloadingChange("/app/Makefile", known), true);
  });

  test("reloads for registry, handler and schema files that no entry names yet", () => {
    for (const name of ["new.yaml", "new.yml", "tasks.ts", "util.mts", "util.cts", "util.js", "util.mjs", "util.cjs", "worker.lua", "schema.json"]) {
      assert.equal(isReloadingChange(`/app/${name}`, known), true, name);
    }
  });

  test("ignores databases, journals, editor files and dot-files", () => {
    for (const name of ["tasks.db", "tasks.db-wal", "tasks.db-shm", "greet.ts~", ".greet.ts.swp", "4913", "#greet.ts#", ".#greet.ts", "notes.txt"]) {
      assert.equal(isReloadingChange(`/app/${name}`, known), false, name);
    }
  });
});
