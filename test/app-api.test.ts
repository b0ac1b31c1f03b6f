/**
 * The app's API description and request checks (GET /openapi.json, POST /tasks body schema) and its
 * example schedule, started in-process on a throwaway database.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startRuntime, type Runtime } from "../runtime/runtime.ts";
import httpOpenapi from "../runtime/kinds/http-openapi.ts";
import queueSchedule from "../runtime/kinds/queue-schedule.ts";
import { capturingLogger, getJson, postJson, temporaryDirectory, waitFor } from "./helpers.ts";
import { tickTaskId } from "../app/enqueue_scheduled.ts";
import { PAGE_BYTES } from "../app/list_tasks.ts";

process.env.APP_WORK_DELAY = "0";

const REGISTRY = "app/_index.yaml";
// Passed explicitly so these tests do not depend on the kinds table having them yet.
const KINDS = [httpOpenapi, queueSchedule];

async function startApp(overrides: string[] = []): Promise<{ runtime: Runtime; url: string; stop(): Promise<void> }> {
  const temporary = temporaryDirectory();
  const runtime = await startRuntime({
    path: REGISTRY,
    kinds: KINDS,
    overrides: ["app:gateway:addr=127.0.0.1:0", `app:db:file=${path.join(temporary.directory, "tasks.db")}`, ...overrides],
    logger: capturingLogger(),
  });
  const { port } = runtime.component<{ address(): { port: number } }>("app:gateway").address();
  return {
    runtime,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await runtime.stop();
      temporary.remove();
    },
  };
}

describe("the app's API description and request checks", () => {
  let app: Awaited<ReturnType<typeof startApp>>;
  before(async () => {
    app = await startApp();
  });
  after(async () => {
    await app?.stop();
  });

  test("GET /openapi.json describes every endpoint with its parameters, request body and responses", async () => {
    const { status, body: document } = await getJson(`${app.url}/openapi.json`);
    assert.equal(status, 200);
    assert.equal(document.openapi, "3.1.0");
    assert.deepEqual(document.info, {
      title: "taskrt task queue",
      version: "1.0.0",
      description: "Queue tasks with POST /tasks; consumers process them in the background; GET /tasks reads the results.",
    });
    assert.deepEqual(Object.keys(document.paths), ["/tasks", "/tasks/{id}"]);
    assert.deepEqual(Object.keys(document.paths["/tasks"]), ["post", "get"]);
    const operations = [document.paths["/tasks"].post, document.paths["/tasks"].get, document.paths["/tasks/{id}"].get];
    assert.deepEqual(
      operations.map((operation) => [operation.operationId, operation.summary, operation.tags]),
      [
        ["app:create_task.endpoint", "Queue a task", ["tasks"]],
        ["app:list_tasks.endpoint", "List tasks, newest first", ["tasks"]],
        ["app:get_task.endpoint", "One task", ["tasks"]],
      ],
    );
    for (const operation of operations) {
      for (const [code, response] of Object.entries(operation.responses as Record<string, { description: unknown }>)) {
        assert.match(code, /^([1-5]\d\d|default)$/);
        assert.equal(typeof response.description, "string", `${operation.operationId} ${code} has a description`);
      }
    }

    const create = document.paths["/tasks"].post;
    assert.equal(create.requestBody.required, true);
    const bodySchema = create.requestBody.content["application/json"].schema;
    assert.deepEqual(Object.keys(bodySchema.properties), ["action", "data"]);
    assert.deepEqual(Object.keys(create.responses), ["202", "400", "413", "503"]);
    assert.deepEqual(create.responses["202"].content["application/json"].schema.required, ["id", "status"]);

    const list = document.paths["/tasks"].get;
    assert.deepEqual(
      list.parameters.map((parameter: { name: string; in: string; required: boolean; schema: { type: string } }) => [parameter.name, parameter.in, parameter.required, parameter.schema.type]),
      [
        ["status", "query", false, "string"],
        ["limit", "query", false, "integer"],
        ["cursor", "query", false, "string"],
      ],
    );

    const one = document.paths["/tasks/{id}"].get;
    assert.deepEqual(one.parameters, [{ name: "id", in: "path", required: true, schema: { type: "string" } }]);
    // Read from app/schemas/task.json.
    const taskSchema = one.responses["200"].content["application/json"].schema;
    assert.deepEqual(taskSchema.properties.status, { enum: ["queued", "running", "completed", "failed"] });
    assert.deepEqual(Object.keys(one.responses), ["200", "404"]);
  });

  test("POST /tasks answers 400 naming a field of the wrong type, before the handler runs", async () => {
    const wrongAction = await postJson(`${app.url}/tasks`, { action: 5 });
    assert.deepEqual(wrongAction, { status: 400, body: { error: "invalid request body", details: [{ field: "/action", message: "must be string" }] } });
    const wrongData = await postJson(`${app.url}/tasks`, { action: "sum", data: [1, 2] });
    assert.deepEqual(wrongData, { status: 400, body: { error: "invalid request body", details: [{ field: "/data", message: "must be object" }] } });
  });

  test("the handler's own answers stay: invalid JSON, action required, and 202 for a valid task", async () => {
    assert.deepEqual(await postJson(`${app.url}/tasks`, "{not json"), { status: 400, body: { error: "invalid JSON" } });
    assert.deepEqual(await postJson(`${app.url}/tasks`, { data: { text: "x" } }), { status: 400, body: { error: "action required" } });
    assert.equal((await postJson(`${app.url}/tasks`, { action: "uppercase", data: { text: "x" } })).status, 202);
  });

  test("POST /tasks answers 400 naming the problem for data nested past max_json_depth or invalid UTF-8, and stores nothing", async () => {
    const before = (await getJson(`${app.url}/tasks?limit=1000`)).body.count;
    const deep = `{"action":"sum","data":{"numbers":${"[".repeat(8000)}${"]".repeat(8000)}}}`;
    assert.deepEqual(await postJson(`${app.url}/tasks`, deep), {
      status: 400,
      body: { error: "JSON in request body nested deeper than 128 levels (max_json_depth)" },
    });
    const invalid = Buffer.concat([Buffer.from('{"action":"uppercase","data":{"text":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]);
    const response = await fetch(`${app.url}/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: invalid });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), { error: "invalid UTF-8 in request body" });
    assert.equal((await getJson(`${app.url}/tasks?limit=1000`)).body.count, before);
  });

  test("GET /tasks stops a page at PAGE_BYTES of task data whatever the limit, and the cursor continues from there", async () => {
    // Its own app: the other tests list every task on one page.
    const own = await startApp();
    try {
      await pagesByBytes(own.url);
    } finally {
      await own.stop();
    }
  });

  test("GET /tasks answers from the committed state while a write transaction holds the database", { timeout: 60_000 }, async () => {
    const posted = await postJson(`${app.url}/tasks`, { action: "uppercase", data: { text: "committed" } });
    assert.equal(posted.status, 202);
    const database = await app.runtime.supervisor.services.database("app:db");
    const uncommitted = "ffffffff-ffff-7fff-bfff-ffffffffffff";
    let inside!: () => void;
    const entered = new Promise<void>((resolve) => (inside = resolve));
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const holding = database.transaction(async (tx) => {
      await tx.execute("INSERT INTO tasks (id, action, payload, status, attempts, created_at, updated_at) VALUES (?, 'uppercase', '{}', 'queued', 0, 1, 1)", [uncommitted]);
      inside();
      await finished;
    });
    await entered;
    try {
      // Were the reads to wait for the write lock, this would wait for the transaction: never.
      const page = await getJson(`${app.url}/tasks?limit=1000`);
      assert.equal(page.status, 200);
      const ids = (page.body.tasks as { id: string }[]).map((task) => task.id);
      assert.ok(ids.includes(posted.body.id), "the committed task is listed");
      assert.ok(!ids.includes(uncommitted), "the open transaction's row is not");
    } finally {
      finish();
      await holding;
    }
    const after = (await getJson(`${app.url}/tasks?limit=1`)).body.tasks as { id: string }[];
    assert.deepEqual(after.map((task) => task.id), [uncommitted], "listed once committed");
    await database.execute("DELETE FROM tasks WHERE id = ?", [uncommitted]);
  });

  test("GET /tasks answers 400 naming a query parameter of the wrong type", async () => {
    assert.deepEqual(await getJson(`${app.url}/tasks?limit=ten`), {
      status: 400,
      body: { error: "invalid query parameters", details: [{ field: "limit", message: "must be integer" }] },
    });
  });

  test("a scheduled message delivered twice makes one task, whose id comes from the schedule and the tick", async () => {
    const scheduledAt = Date.UTC(2026, 0, 1, 12, 30);
    const id = tickTaskId("app:nightly", scheduledAt);
    assert.equal(id, tickTaskId("app:nightly", scheduledAt));
    assert.notEqual(id, tickTaskId("app:nightly", scheduledAt + 60_000));
    assert.notEqual(id, tickTaskId("app:hourly", scheduledAt));
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(parseInt(id.replace(/-/g, "").slice(0, 12), 16), scheduledAt);

    const queue = app.runtime.supervisor.services.queue("app:scheduled_tasks");
    const headers = { x_schedule: "app:nightly", x_scheduled_at: new Date(scheduledAt).toISOString() };
    await queue.publish({ action: "sum", data: { numbers: [4, 5] } }, headers);
    await queue.publish({ action: "sum", data: { numbers: [4, 5] } }, headers);
    const task = await waitFor(async () => {
      const { body } = await getJson(`${app.url}/tasks/${id}`);
      return body.status === "completed" ? body : undefined;
    }, "the scheduled task to complete");
    assert.deepEqual(task.result, { output: 9 });
    const stats = await waitFor(async () => {
      const current = await queue.stats();
      return current.ready === 0 && current.inFlight === 0 ? current : undefined;
    }, "both deliveries to be consumed");
    assert.equal(stats.dead, 0);
    const all = (await getJson(`${app.url}/tasks?limit=1000`)).body.tasks.filter((candidate: { id: string }) => candidate.id === id);
    assert.equal(all.length, 1);
  });

  test("the example schedule is loaded but disabled", () => {
    const schedule = app.runtime.started().find((entry) => entry.id === "app:sum_every_minute");
    assert.deepEqual(schedule, { id: "app:sum_every_minute", kind: "queue.schedule", description: 'disabled: cron "* * * * *" → app:scheduled_tasks' });
  });
});

describe("the app's example schedule, enabled", () => {
  test("each tick becomes one sum task that completes with output 6", async () => {
    const app = await startApp(["app:sum_every_minute:enabled=true", "app:sum_every_minute:cron=* * * * * *"]);
    try {
      const tasks = await waitFor(async () => {
        const { body } = await getJson(`${app.url}/tasks?status=completed`);
        return body.count >= 2 ? body.tasks : undefined;
      }, "two scheduled tasks to complete");
      for (const task of tasks) {
        assert.equal(task.action, "sum");
        assert.deepEqual(task.payload.data, { numbers: [1, 2, 3] });
        assert.deepEqual(task.result, { output: 6 });
        assert.match(task.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      }
      const description = app.runtime.started().find((entry) => entry.id === "app:sum_every_minute")?.description;
      assert.match(description ?? "", /^cron "\* \* \* \* \* \*" → app:scheduled_tasks \(next \d\d:\d\d:\d\d\)$/);
    } finally {
      await app.stop();
    }
  });
});

/** Five 600 kB tasks, then every page of GET /tasks?limit=1000: which of them each page holds. */
async function pagesByBytes(url: string): Promise<void> {
  const big = "x".repeat(600_000);
  const ids: string[] = [];
  for (let index = 0; index < 5; index++) {
    const created = await postJson(`${url}/tasks`, { action: "keep", data: { text: big, index } });
    assert.equal(created.status, 202);
    ids.push(created.body.id);
  }
  const seen: string[] = [];
  const pages: string[][] = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; body: any } = await getJson(`${url}/tasks?limit=1000${cursor ? `&cursor=${cursor}` : ""}`);
    assert.equal(page.status, 200);
    const bigOnPage = (page.body.tasks as { id: string }[]).map((task) => task.id).filter((id) => ids.includes(id));
    pages.push(bigOnPage);
    seen.push(...bigOnPage);
    cursor = page.body.next_cursor;
  } while (cursor !== null);
  // 600 kB a task: three fit in PAGE_BYTES (2 MiB), the fourth would not.
  assert.equal(PAGE_BYTES, 2 * 1024 * 1024);
  assert.deepEqual(pages[0], ids.slice(2).reverse());
  assert.deepEqual(seen, [...ids].reverse());
}
