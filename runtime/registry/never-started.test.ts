import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { checkRegistry } from "../runtime.ts";

const directory = mkdtempSync(path.join(tmpdir(), "taskrt-never-started-"));
after(() => rmSync(directory, { recursive: true, force: true }));
writeFileSync(path.join(directory, "work.ts"), "export function main(): void {}\n");

/** A queue with a consumer and a web server; `extra` is appended to the entries. */
function registry(name: string, consumerLifecycle: string, extra = ""): string {
  const file = path.join(directory, `${name}.yaml`);
  writeFileSync(
    file,
    `version: "1.0"
namespace: app
entries:
  - name: db
    kind: db.sql.sqlite
    file: ":memory:"
  - name: unused_driver
    kind: queue.driver.memory
  - name: driver
    kind: queue.driver.sqlite
    db: app:db
  - name: jobs
    kind: queue.queue
    driver: app:driver
  - name: work
    kind: function.ts
    source: file://work.ts
    method: main
  - name: worker
    kind: queue.consumer
    queue: app:jobs
    func: app:work
${consumerLifecycle}${extra}`,
  );
  return file;
}

async function warnings(file: string): Promise<string[][]> {
  const { problems } = await checkRegistry({ path: file });
  return problems.map((problem) => [problem.code, `${path.basename(problem.location!.file)}:${problem.location!.line}:${problem.location!.column}`, problem.message, problem.hint ?? ""]);
}

describe("never-started services", () => {
  test("a consumer that nothing starts is a warning naming the fix, at its lifecycle or else the entry", async () => {
    assert.deepEqual(await warnings(registry("bare", "")), [
      [
        "W_NEVER_STARTED",
        "bare.yaml:19:5",
        "app:worker (queue.consumer) never starts: its lifecycle.auto_start is not true and no entry that starts requires it",
        "set lifecycle.auto_start: true on app:worker, or add it to lifecycle.requires of an entry that starts",
      ],
    ]);
    assert.deepEqual((await warnings(registry("off", "    lifecycle:\n      auto_start: false\n"))).map((row) => row[1]), ["off.yaml:24:7"]);
  });

  test("an auto-started consumer starts what it uses; a driver nothing uses is kept for -o without a warning", async () => {
    assert.deepEqual(await warnings(registry("started", "    lifecycle:\n      auto_start: true\n")), []);
  });

  test("a consumer an auto-started entry requires is started by it", async () => {
    const keeper = "  - name: keeper\n    kind: process.host\n    lifecycle:\n      auto_start: true\n      requires: [app:worker]\n";
    assert.deepEqual(await warnings(registry("required", "", keeper)), []);
  });

  test("a server that routers use but nothing starts is a warning naming its users", async () => {
    const web = "    lifecycle:\n      auto_start: true\n  - name: web\n    kind: http.service\n    addr: 127.0.0.1:0\n  - name: api\n    kind: http.router\n    meta:\n      server: app:web\n";
    assert.deepEqual(await warnings(registry("web", web)), [
      [
        "W_NEVER_STARTED",
        "web.yaml:25:5",
        "app:web (http.service) never starts: its lifecycle.auto_start is not true and no entry that starts requires it (used by app:api)",
        "set lifecycle.auto_start: true on app:web, or add it to lifecycle.requires of an entry that starts",
      ],
    ]);
  });
});
