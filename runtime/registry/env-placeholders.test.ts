import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createKindTable } from "../kinds/index.ts";
import type { Problem } from "../errors.ts";
import type { Registry } from "./entry.ts";
import { loadRegistry } from "./load.ts";
import { validateRegistry } from "./validate.ts";

const directory = mkdtempSync(path.join(tmpdir(), "taskrt-env-placeholders-"));
after(() => rmSync(directory, { recursive: true, force: true }));
writeFileSync(path.join(directory, "work.ts"), "export function main(): void {}\n");

let written = 0;
async function validated(entries: string): Promise<{ registry: Registry; problems: Problem[] }> {
  const file = path.join(directory, `registry-${++written}.yaml`);
  writeFileSync(file, `version: "1.0"\nnamespace: app\nentries:\n${entries}`);
  const { registry, problems } = await loadRegistry(file);
  assert.deepEqual(problems, []);
  return { registry, problems: await validateRegistry(registry, createKindTable()) };
}

const SERVER = `  - name: web
    kind: http.service
    addr: "\${env:TASKRT_TEST_ADDR|127.0.0.1:8080}"
    max_connections: \${env:TASKRT_TEST_CONNECTIONS|64}
    lifecycle:
      auto_start: \${env:TASKRT_TEST_AUTO_START|true}
`;

describe("${env:NAME|default} placeholders", () => {
  test("any field takes the default when the variable is unset, and a lone placeholder takes the type the schema wants", async () => {
    delete process.env.TASKRT_TEST_ADDR;
    const { registry, problems } = await validated(SERVER);
    assert.deepEqual(problems, []);
    const web = registry.byId.get("app:web")!.data;
    assert.equal(web.addr, "127.0.0.1:8080");
    assert.equal(web.max_connections, 64);
    assert.equal((web.lifecycle as { auto_start: unknown }).auto_start, true);
  });

  test("a set variable wins over the default", async () => {
    process.env.TASKRT_TEST_ADDR = "0.0.0.0:9090";
    process.env.TASKRT_TEST_CONNECTIONS = "12";
    try {
      const { registry, problems } = await validated(SERVER);
      assert.deepEqual(problems, []);
      assert.equal(registry.byId.get("app:web")!.data.addr, "0.0.0.0:9090");
      assert.equal(registry.byId.get("app:web")!.data.max_connections, 12);
    } finally {
      delete process.env.TASKRT_TEST_ADDR;
      delete process.env.TASKRT_TEST_CONNECTIONS;
    }
  });

  test("a variable that is unset and has no default is an error naming it, at its field", async () => {
    const { problems } = await validated(`  - name: web\n    kind: http.service\n    addr: "\${env:TASKRT_TEST_UNSET_ADDR}"\n`);
    assert.deepEqual(
      problems.map((problem) => [problem.code, problem.severity, `${problem.location!.line}:${problem.location!.column}`, problem.message, problem.hint]),
      [["E_ENV_UNSET", "error", "6:5", "addr uses ${env:TASKRT_TEST_UNSET_ADDR}, but TASKRT_TEST_UNSET_ADDR is not set", "set TASKRT_TEST_UNSET_ADDR, or give a default: ${env:TASKRT_TEST_UNSET_ADDR|value}"]],
    );
  });

  test("text fields stay text, placeholders inside text are replaced, and $${ is a literal ${", async () => {
    process.env.TASKRT_TEST_NAME = "tasks";
    try {
      const { registry, problems } = await validated(`  - name: db\n    kind: db.sql.sqlite\n    file: "\${env:TASKRT_TEST_FILE|1234}"\n  - name: work\n    kind: function.ts\n    source: file://work.ts\n    method: "\${env:TASKRT_TEST_METHOD|main}"\n  - name: files\n    kind: db.sql.sqlite\n    file: "./\${env:TASKRT_TEST_NAME}-$\${x}.db"\n`);
      assert.deepEqual(problems, []);
      assert.equal(registry.byId.get("app:db")!.data.file, "1234");
      assert.equal(registry.byId.get("app:work")!.data.method, "main");
      assert.equal(registry.byId.get("app:files")!.data.file, "./tasks-${x}.db");
    } finally {
      delete process.env.TASKRT_TEST_NAME;
    }
  });

  test("credentials a kind reads at each connect are left for it: an unset one is not a validation error", async () => {
    const { registry, problems } = await validated(
      `  - name: pg\n    kind: db.sql.postgres\n    host: localhost\n    database: test\n    username: test\n    password: "\${env:TASKRT_TEST_UNSET_PASSWORD}"\n`,
    );
    assert.deepEqual(problems, []);
    assert.equal(registry.byId.get("app:pg")!.data.password, "${env:TASKRT_TEST_UNSET_PASSWORD}");
  });
});
