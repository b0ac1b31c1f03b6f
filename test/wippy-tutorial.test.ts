import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { eraseTypes } from "../runtime/handlers/lua/typed/erase.ts";
import { getJson, postJson, startApp, temporaryDirectory, waitFor, type RunningApp } from "./helpers.ts";

const EXAMPLE = "examples/wippy-tutorial";
/** The same registry, with Lua files written with Wippy's type annotations. */
const TYPED_EXAMPLE = "examples/wippy-tutorial-typed";
const SOURCES = ["_index.yaml", "migrate.lua", "create_task.lua", "list_tasks.lua", "process_task.lua"];
const SEED = path.resolve("../shared/seed/task-queue.md");
/** Generous: a task that fails (e.g. before the migration) is retried after 1 s, then 2 s, … */
const PROCESSED_WITHIN_MS = 20_000;

/** The tutorial's YAML and Lua code blocks, in the order the document prints them. */
function seedCodeBlocks(): string[] {
  const text = readFileSync(SEED, "utf8");
  return [...text.matchAll(/```(yaml|lua)\n([\s\S]*?)```/g)].map((match) => match[2]);
}

function parseRow(task: { payload: string; result: string }) {
  return { payload: JSON.parse(task.payload), result: JSON.parse(task.result) };
}

describe("the Wippy tutorial's files (examples/wippy-tutorial)", () => {
  test("are the seed document's code blocks, byte for byte", { skip: !existsSync(SEED) && `the seed document ${SEED} is not in this checkout` }, () => {
    const blocks = seedCodeBlocks();
    assert.equal(blocks.length, SOURCES.length);
    SOURCES.forEach((name, index) => assert.equal(readFileSync(path.join(EXAMPLE, "src", name), "utf8"), blocks[index], name));
  });


  test("wippy.lock names ./src as the source directory", () => {
    assert.equal(readFileSync(path.join(EXAMPLE, "wippy.lock"), "utf8"), "directories:\n  modules: .wippy\n  src: ./src\n");
  });
});

describe("the typed tutorial (examples/wippy-tutorial-typed)", () => {
  test("has the same registry, and Lua files of its own that carry Wippy's types", () => {
    assert.equal(readFileSync(path.join(TYPED_EXAMPLE, "src/_index.yaml"), "utf8"), readFileSync(path.join(EXAMPLE, "src/_index.yaml"), "utf8"));
    assert.equal(readFileSync(path.join(TYPED_EXAMPLE, "wippy.lock"), "utf8"), readFileSync(path.join(EXAMPLE, "wippy.lock"), "utf8"));
    for (const name of SOURCES.filter((source) => source.endsWith(".lua"))) {
      const code = readFileSync(path.join(TYPED_EXAMPLE, "src", name), "utf8");
      assert.notEqual(eraseTypes(code), code, `${name} has type syntax to erase`);
    }
  });
});

for (const [title, example] of [
  ["the Wippy tutorial", EXAMPLE],
  ["the typed Wippy tutorial", TYPED_EXAMPLE],
] as const) describe(`${title}, run by taskrt: the tutorial's curl flow`, () => {
  let app: RunningApp;
  const posted: Record<string, { id: string; status: string }> = {};

  before(async () => {
    app = await startApp(example, { gateway: "app:gateway", database: "app:db" });
  });
  after(async () => {
    await app?.stop();
  });

  test("POST /tasks answers 202 {id, status: queued} for each task", async () => {
    const tasks = {
      upper: { action: "uppercase", data: { text: "hello world" } },
      sum: { action: "sum", data: { numbers: [1, 2, 3, 4, 5] } },
      other: { action: "resize" },
    };
    for (const [name, task] of Object.entries(tasks)) {
      const response = await postJson(`${app.url}/tasks`, task);
      assert.equal(response.status, 202, name);
      assert.deepEqual(Object.keys(response.body).sort(), ["id", "status"]);
      assert.equal(response.body.status, "queued");
      assert.match(response.body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      posted[name] = response.body;
    }
  });

  test("GET /tasks lists them completed, result and payload as the JSON strings the worker stored", async () => {
    const listed = await waitFor(
      async () => {
        const { status, body } = await getJson(`${app.url}/tasks`);
        return status === 200 && body.count === 3 ? body : undefined;
      },
      "three tasks listed",
      PROCESSED_WITHIN_MS,
    );
    assert.equal(listed.tasks.length, 3);
    const byId = new Map(listed.tasks.map((task: { id: string }) => [task.id, task]));
    const row = (name: string) => byId.get(posted[name].id) as { status: string; payload: string; result: string; created_at: number; processed_at: number };

    for (const name of ["upper", "sum", "other"]) {
      assert.equal(row(name).status, "completed", name);
      assert.equal(typeof row(name).result, "string", "the tutorial stores json.encode(result) in a TEXT column");
      assert.ok(Number.isInteger(row(name).created_at) && row(name).processed_at >= row(name).created_at, name);
    }
    assert.deepEqual(parseRow(row("upper")).result, { output: "HELLO WORLD" });
    assert.deepEqual(parseRow(row("sum")).result, { output: 15 });
    assert.deepEqual(parseRow(row("other")).result, { output: "processed" });
    assert.deepEqual(parseRow(row("sum")).payload, { id: posted.sum.id, action: "sum", data: { numbers: [1, 2, 3, 4, 5] }, created_at: row("sum").created_at });
    // create_task.lua's `body.data or {}`: an empty Lua table is encoded as [] (Wippy's rule).
    assert.deepEqual(parseRow(row("other")).payload.data, []);
  });

  test("GET /tasks?status=completed filters by status; an unknown status lists nothing", async () => {
    const completed = await getJson(`${app.url}/tasks?status=completed`);
    assert.equal(completed.status, 200);
    assert.equal(completed.body.count, 3);
    assert.deepEqual(new Set(completed.body.tasks.map((task: { id: string }) => task.id)), new Set(Object.values(posted).map((task) => task.id)));
    const pending = await getJson(`${app.url}/tasks?status=pending`);
    assert.deepEqual(pending, { status: 200, body: { tasks: [], count: 0 } });
  });

  test("POST /tasks with a body that is not JSON answers 400 {error: invalid JSON}", async () => {
    assert.deepEqual(await postJson(`${app.url}/tasks`, "{not json"), { status: 400, body: { error: "invalid JSON" } });
  });

  test("POST /tasks without an action answers 400 {error: action required}", async () => {
    assert.deepEqual(await postJson(`${app.url}/tasks`, { data: { text: "x" } }), { status: 400, body: { error: "action required" } });
  });

  test("the worker logged each task through the Lua logger, with the entry id", () => {
    const lines = app.logs.map((line) => JSON.parse(line) as { msg: string; entry: string; id?: string });
    for (const { id } of Object.values(posted)) {
      assert.ok(lines.some((line) => line.msg === "task completed" && line.entry === "app:process_task" && line.id === id), id);
    }
    assert.ok(lines.some((line) => line.msg === "migration complete" && line.entry === "app:migrate"));
  });
});

describe("the Wippy tutorial when a task arrives before the migration has run", () => {
  // A copy whose migration first publishes a task, then takes 1.5 s before creating the table:
  // the consumer runs the task at once, process_task.lua's INSERT fails and it returns false.
  let app: RunningApp;
  let copy: { directory: string; remove(): void };

  before(async () => {
    copy = temporaryDirectory("taskrt-tutorial-copy-");
    cpSync(EXAMPLE, copy.directory, { recursive: true });
    const index = path.join(copy.directory, "src/_index.yaml");
    writeFileSync(index, readFileSync(index, "utf8").replace("      - sql\n      - logger\n\n  # Migrations-Service", "      - sql\n      - logger\n      - queue\n      - time\n\n  # Migrations-Service"));
    const migrate = path.join(copy.directory, "src/migrate.lua");
    writeFileSync(
      migrate,
      readFileSync(migrate, "utf8")
        .replace('local logger = require("logger")', 'local logger = require("logger")\nlocal queue = require("queue")\nlocal time = require("time")')
        .replace(
          "    local _, exec_err = db:execute(",
          '    assert(queue.publish("app:tasks_queue", {id = "early", action = "sum", data = {numbers = {2, 3}}, created_at = os.time()}))\n    time.sleep("1500ms")\n    local _, exec_err = db:execute(',
        ),
    );
    app = await startApp(copy.directory);
  });
  after(async () => {
    await app?.stop();
    copy?.remove();
  });

  test("the task fails while the table is missing, is retried with backoff, and completes", async () => {
    const listed = await waitFor(
      async () => {
        const { body } = await getJson(`${app.url}/tasks?status=completed`);
        return body.count === 1 ? body : undefined;
      },
      "the early task completed",
      PROCESSED_WITHIN_MS,
    );
    assert.equal(listed.tasks[0].id, "early");
    assert.deepEqual(JSON.parse(listed.tasks[0].result), { output: 5 });
    const lines = app.logs.map((line) => JSON.parse(line) as { msg: string; error?: string });
    assert.ok(lines.some((line) => line.msg === "failed to store result" && line.error === "sql failed on app:db: no such table: tasks"));
    const retried = lines.filter((line) => /^message \S+ failed on attempt 1: handler returned false$/.test(line.msg));
    assert.equal(retried.length, 1, "the first attempt failed and was retried");
  });
});

describe("taskrt run examples/wippy-tutorial", () => {
  test("creates ./data/tasks.db under the working directory, serves the tutorial, and stops cleanly", async () => {
    const cwd = temporaryDirectory("taskrt-tutorial-cwd-");
    try {
      const child = spawn(process.execPath, [path.resolve("bin/taskrt.js"), "run", path.resolve(EXAMPLE), "-o", "app:gateway:addr=127.0.0.1:0"], {
        cwd: cwd.directory,
        env: { ...process.env, NO_COLOR: "1" },
      });
      let output = "";
      child.stdout.on("data", (chunk) => (output += chunk));
      child.stderr.on("data", (chunk) => (output += chunk));
      const exited = once(child, "exit");
      try {
        const port = await waitFor(async () => /ready in \d+ms/.test(output) && /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1], "the CLI to be ready");
        const created = await postJson(`http://127.0.0.1:${port}/tasks`, { action: "uppercase", data: { text: "cli" } });
        assert.equal(created.status, 202);
        const listed = await waitFor(
          async () => {
            const { body } = await getJson(`http://127.0.0.1:${port}/tasks?status=completed`);
            return body.count === 1 ? body : undefined;
          },
          "the task completed",
          PROCESSED_WITHIN_MS,
        );
        assert.deepEqual(JSON.parse(listed.tasks[0].result), { output: "CLI" });
        assert.ok(existsSync(path.join(cwd.directory, "data/tasks.db")), "the database file is relative to the working directory");
      } finally {
        child.kill("SIGTERM");
      }
      const [code] = await exited;
      assert.equal(code, 0, output);
      assert.match(output, /stopped cleanly\n$/);
    } finally {
      cwd.remove();
    }
  });
});
