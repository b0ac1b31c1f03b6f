import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { captureLogger } from "./logs.ts";
import { buildContext, checkSnippet, createComponents, entryFrom, registryFrom, STAND_IN_MODULE } from "./registry.ts";

const QUEUE = `
  - name: driver
    kind: queue.driver.memory
  - name: tasks
    kind: queue.queue
    driver: app:driver
    max_attempts: 3
`;

describe("registries from YAML snippets", () => {
  test("entries carry the schema defaults and the positions they were written at", async () => {
    const registry = await registryFrom(QUEUE);
    const tasks = registry.byId.get("app:tasks")!;
    assert.deepEqual(tasks.data, { driver: "app:driver", max_attempts: 3, driver_options: {}, backoff: { initial: "1s", factor: 2, max: "5m", jitter: 0.1 } });
    assert.deepEqual(tasks.locate(["max_attempts"]), { file: join(registry.root, "app", "_index.yaml"), line: 9, column: 5 });
  });

  test("a snippet the validator refuses throws with every problem, located, and the snippet", async () => {
    await assert.rejects(registryFrom(QUEUE.replace("max_attempts: 3", "max_attempts: 0").replace("driver: app:driver", "driver: app:drvier")), (error: Error) => {
      assert.match(error.message, /^the snippet is not a valid registry:\n/);
      assert.match(error.message, /app\/_index\.yaml:\d+:\d+: error E_SCHEMA \[app:tasks\] max_attempts: must be >= 1, found 0/);
      assert.match(error.message, /E_REF_UNRESOLVED \[app:tasks\] driver: no entry app:drvier/);
      assert.match(error.message, /\n--- app\/_index\.yaml\nversion: "1\.0"\nnamespace: app\nentries:\n  - name: driver\n/);
      return true;
    });
  });

  test("expected problems are let through, and one that is not reported is an error of the test", async () => {
    const refused = `${QUEUE}  - name: more\n    kind: queue.queue\n    driver: app:tasks\n`;
    const registry = await registryFrom(refused, { expectProblems: ["E_REF_KIND"] });
    assert.equal(registry.byId.get("app:more")!.data.max_attempts, 5);
    await assert.rejects(registryFrom(QUEUE, { expectProblems: ["E_REF_KIND"] }), /^Error: expected problems E_REF_KIND were not reported; /);
  });

  test("checkSnippet returns the problems instead, {dir} standing for the registry folder", async () => {
    const checked = await checkSnippet(`
      - name: db
        kind: db.sql.sqlite
        file: "{dir}/app.db"
        synchronous: fast
    `);
    assert.equal(checked.registry.byId.get("app:db")!.data.file, join(checked.registry.root, "app.db"));
    assert.deepEqual(
      checked.problems.map((problem) => [problem.code, problem.field]),
      [["E_SCHEMA", "synchronous"]],
    );
  });

  test("entryFrom names the entry wanted when there are several", async () => {
    assert.equal((await entryFrom(QUEUE, { id: "app:tasks" })).kind, "queue.queue");
    await assert.rejects(entryFrom(QUEUE), /^Error: the snippet declares 2 entries: name the one wanted with options.id$/);
  });
});

describe("components of a snippet", () => {
  test("are built by the real kinds in dependency order, stand-ins taking the place of their ids", async () => {
    const registry = await registryFrom(
      `${QUEUE}  - name: handler\n    kind: function.ts\n    source: file://handler.mjs\n    method: handle\n  - name: worker\n    kind: queue.consumer\n    queue: tasks\n    func: handler\n`,
      { files: STAND_IN_MODULE },
    );
    const standIn = { callable: () => assert.fail("not called") };
    const components = createComponents(registry, captureLogger().logger, { standIns: { "app:handler": standIn } });
    assert.deepEqual([...components.keys()], ["app:handler", "app:driver", "app:tasks", "app:worker"]);
    assert.equal(components.get("app:handler"), standIn);
    assert.equal(components.get("app:tasks")!.describe?.(), "queue 'tasks' on app:driver, 3 attempts, then buried");
  });

  test("the build context's services find queues by id and kind, and say which one was meant", async () => {
    const registry = await registryFrom(QUEUE);
    const components = createComponents(registry, captureLogger().logger);
    const { services } = buildContext(registry, components, captureLogger().logger);
    assert.equal(services.queue("app:tasks"), components.get("app:tasks"));
    assert.throws(() => services.queue("app:taks"), { code: "E_QUEUE_NOT_FOUND", message: "queue app:taks not found", hint: "did you mean app:tasks?" });
    assert.throws(() => services.queue("app:driver"), { code: "E_QUEUE_NOT_FOUND", message: "app:driver is a queue.driver.memory, not a queue" });
    assert.throws(() => services.database("app:db"), { code: "E_DB_NOT_FOUND", message: "database app:db not found", hint: "the registry declares no database" });
  });
});
