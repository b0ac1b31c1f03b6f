import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import type { Delivery, QueueHandle } from "../drivers/queue/driver.ts";
import type { SqlDatabase } from "../drivers/sql/driver.ts";
import { GATEWAY, checkSnippet, startSnippet } from "../../test/support/registry.ts";

const QUEUE = `
  - name: driver
    kind: queue.driver.memory
    lifecycle:
      auto_start: true
  - name: jobs
    kind: queue.queue
    driver: app:driver
    max_attempts: 1
  - name: idle
    kind: queue.queue
    driver: app:driver
`;

const DATABASE = `
  - name: db
    kind: db.sql.sqlite
    file: "{dir}/app.db"
    lifecycle:
      auto_start: true
`;

const DASHBOARD = `
  - name: dashboard
    kind: taskrt.dashboard
    meta:
      router: app:router
`;

const WITH_TASKS = `${DASHBOARD}    tasks:
      db: app:db
      list: [action]
`;

const ACTION = { "x-taskrt-dashboard": "1", "content-type": "application/json" };

interface Running {
  supervisor: { component<T>(id: string): T };
  url(): string;
}

/** The Authorization header for the token the dashboard generated, read from the address it prints. */
function tokenHeader(running: Running): { authorization: string } {
  const address = running.supervisor.component<{ address(): string }>("app:dashboard").address();
  const token = new URL(address).hash.replace(/^#token=/, "");
  return { authorization: `Bearer ${token}` };
}

async function json(response: Response): Promise<[number, any]> {
  return [response.status, await response.json()];
}

/** Publishes `body`, lets it fail its only attempt, and resolves once it is dead. */
async function killOne(jobs: QueueHandle, body: unknown): Promise<void> {
  const before = (await jobs.stats()).dead;
  await jobs.publish(body);
  const subscription = await jobs.consume({ prefetch: 1 }, (delivery: Delivery) => void jobs.fail(delivery, "boom"));
  for (let waited = 0; (await jobs.stats()).dead === before; waited += 5) {
    if (waited > 2000) throw new Error("the message never died");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await subscription.cancel();
}

describe("taskrt.dashboard", () => {
  test("an entry with only meta.router serves /dashboard/ with every queue, behind a token, refreshing every 2s", async () => {
    const loaded = await checkSnippet(GATEWAY + QUEUE + DASHBOARD);
    try {
      assert.deepEqual(loaded.problems, []);
      assert.deepEqual(loaded.registry.byId.get("app:dashboard")!.data, {
        path: "/dashboard",
        title: "taskrt",
        token_env: "TASKRT_DASHBOARD_TOKEN",
        refresh: "2s",
      });
    } finally {
      loaded.remove();
    }
  });

  test("a table name that is not a plain identifier is refused before anything runs", async () => {
    const loaded = await checkSnippet(`${GATEWAY}${DATABASE}${DASHBOARD}    tasks:\n      db: app:db\n      table: "tasks; DROP TABLE tasks"\n`);
    try {
      const problem = loaded.problems.find((candidate) => candidate.entryId === "app:dashboard");
      assert.equal(problem?.code, "E_SCHEMA");
      assert.equal(problem?.field, "tasks.table");
    } finally {
      loaded.remove();
    }
  });

  test("an endpoint on one of the dashboard's paths is a route conflict", async () => {
    const loaded = await checkSnippet(
      GATEWAY +
        DASHBOARD +
        `
  - name: mine
    kind: function.ts
    source: file://mine.ts
    method: handler
  - name: overview
    kind: http.endpoint
    meta:
      router: app:router
    method: GET
    path: /dashboard/api/overview
    func: app:mine
`,
    );
    try {
      const conflict = loaded.problems.find((problem) => problem.code === "E_ROUTE_CONFLICT");
      assert.match(conflict?.message ?? "", /^GET \/dashboard\/api\/overview on app:gateway is already served by app:dashboard \(app\/_index\.yaml:\d+\)$/);
    } finally {
      loaded.remove();
    }
  });

  test("the page: /dashboard redirects to /dashboard/, which serves HTML under a strict content security policy", async () => {
    const running = await startSnippet(GATEWAY + QUEUE + DASHBOARD);
    try {
      const bare = await fetch(`${running.url()}/dashboard`, { redirect: "manual" });
      assert.equal(bare.status, 308);
      assert.equal(bare.headers.get("location"), "/dashboard/");
      const page = await fetch(`${running.url()}/dashboard/`);
      assert.equal(page.status, 200);
      assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
      assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
      assert.match(await page.text(), /<script src="dashboard\.js" defer><\/script>/);
      const script = await fetch(`${running.url()}/dashboard/dashboard.js`);
      assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
    } finally {
      await running.stop();
    }
  });

  test("path / serves the page at the router's root; queues lists the queues shown, in its order", async () => {
    const running = await startSnippet(`${GATEWAY}${QUEUE}${DASHBOARD}    path: /\n    queues: [idle]\n`);
    try {
      const page = await fetch(`${running.url()}/`);
      assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
      const [, overview] = await json(await fetch(`${running.url()}/api/overview`, { headers: tokenHeader(running) }));
      assert.deepEqual(overview.queues.map((queue: { id: string }) => queue.id), ["app:idle"]);
    } finally {
      await running.stop();
    }
  });

  test("the overview shows each queue's counts, whether it lists dead letters, and the consumers", async () => {
    const running = await startSnippet(GATEWAY + QUEUE + DASHBOARD);
    try {
      const jobs = running.supervisor.component<QueueHandle>("app:jobs");
      await jobs.publish({ n: 1 });
      await jobs.publish({ n: 2 }, {}, { delayMs: 60_000 });
      const [status, overview] = await json(await fetch(`${running.url()}/dashboard/api/overview`, { headers: tokenHeader(running) }));
      assert.equal(status, 200);
      assert.equal(overview.title, "taskrt");
      assert.equal(overview.refreshMs, 2000);
      assert.deepEqual(overview.queues, [
        { id: "app:jobs", driver: "app:driver", driverKind: "queue.driver.memory", deadLetters: true, listsInFlight: true, browses: true, paused: false, ready: 1, inFlight: 0, delayed: 1, dead: 0 },
        { id: "app:idle", driver: "app:driver", driverKind: "queue.driver.memory", deadLetters: true, listsInFlight: true, browses: true, paused: false, ready: 0, inFlight: 0, delayed: 0, dead: 0 },
      ]);
      assert.deepEqual(overview.consumers, []);
      assert.equal(overview.tasks, null);
    } finally {
      await running.stop();
    }
  });

  test("pause and resume: POST {queue} holds the queue's consumers off and lets them go; the overview says which; bad input is refused", async () => {
    const running = await startSnippet(GATEWAY + QUEUE + DASHBOARD);
    try {
      const base = `${running.url()}/dashboard/api`;
      const headers = { ...tokenHeader(running), ...ACTION };
      const post = async (action: string, body: unknown) => json(await fetch(`${base}/queues/${action}`, { method: "POST", headers, body: JSON.stringify(body) }));
      assert.deepEqual(await post("pause", { queue: "app:jobs" }), [200, { queue: "app:jobs", paused: true }]);
      const jobs = running.supervisor.component<QueueHandle>("app:jobs");
      assert.equal(await jobs.isPaused(), true);
      const [, overview] = await json(await fetch(`${base}/overview`, { headers }));
      assert.deepEqual(overview.queues.map((queue: { id: string; paused: boolean }) => [queue.id, queue.paused]), [["app:jobs", true], ["app:idle", false]]);
      assert.deepEqual(await post("resume", { queue: "app:jobs" }), [200, { queue: "app:jobs", paused: false }]);
      assert.equal(await jobs.isPaused(), false);
      assert.deepEqual(await post("pause", { queue: "app:nope" }), [404, { error: "the dashboard shows no queue app:nope" }]);
      assert.deepEqual(await post("pause", { id: "x" }), [400, { error: 'the body must be JSON: {"queue": "<queue id>"}' }]);
    } finally {
      await running.stop();
    }
  });

  test("messages: waiting and delayed pages by publish order, promote and remove by id; bad input is refused", async () => {
    const running = await startSnippet(GATEWAY + QUEUE + DASHBOARD);
    try {
      const base = `${running.url()}/dashboard/api`;
      const headers = { ...tokenHeader(running), ...ACTION };
      const jobs = running.supervisor.component<QueueHandle>("app:jobs");
      const first = await jobs.publish({ n: 1 });
      const second = await jobs.publish({ n: 2 });
      const later = await jobs.publish({ n: 3 }, {}, { delayMs: 600_000 });
      const list = async (query: string) => json(await fetch(`${base}/messages?queue=app:jobs&${query}`, { headers }));
      const [status, newest] = await list("state=waiting&order=newest");
      assert.equal(status, 200);
      assert.deepEqual([newest.state, newest.order, newest.total, newest.messages.map((message: { id: string }) => message.id)], ["waiting", "newest", 2, [second, first]]);
      const [, delayed] = await list("state=delayed");
      assert.deepEqual(delayed.messages.map((message: { id: string; body: unknown }) => [message.id, message.body]), [[later, { n: 3 }]]);
      const post = async (action: string, body: unknown) => json(await fetch(`${base}/messages/${action}`, { method: "POST", headers, body: JSON.stringify(body) }));
      assert.deepEqual(await post("promote", { queue: "app:jobs", id: later }), [200, { queue: "app:jobs", id: later, action: "promote" }]);
      assert.deepEqual(await post("remove", { queue: "app:jobs", id: first }), [200, { queue: "app:jobs", id: first, action: "remove" }]);
      assert.deepEqual(await jobs.stats(), { ready: 2, inFlight: 0, delayed: 0, dead: 0 });
      assert.deepEqual(await post("remove", { queue: "app:jobs", id: first }), [404, { error: `app:jobs has no waiting or delayed message ${first} (taken by a consumer, or removed already?)` }]);
      assert.deepEqual(await list("state=dead"), [400, { error: "state must be in_flight, waiting or delayed, got dead" }]);
      assert.deepEqual(await list("state=waiting&order=random"), [400, { error: "order must be newest or oldest, got random" }]);
    } finally {
      await running.stop();
    }
  });

  test("tasks: counts by status, pages newest first, a status filter, one task in full, and 400/404 on bad input", async () => {
    const running = await startSnippet(GATEWAY + DATABASE + QUEUE + WITH_TASKS);
    try {
      const db = running.supervisor.component<SqlDatabase>("app:db");
      await db.execute("CREATE TABLE tasks (id TEXT PRIMARY KEY, action TEXT, status TEXT, payload TEXT, result TEXT)");
      for (let index = 1; index <= 30; index++) {
        const status = index % 3 === 0 ? "failed" : "completed";
        await db.execute("INSERT INTO tasks VALUES (?, ?, ?, ?, ?)", [`t${String(index).padStart(2, "0")}`, "sum", status, '{"numbers":[1,2]}', status === "completed" ? "3" : null]);
      }
      const base = `${running.url()}/dashboard/api`;
      const auth = tokenHeader(running);
      const [, overview] = await json(await fetch(`${base}/overview`, { headers: auth }));
      assert.deepEqual(overview.tasks, {
        table: "tasks",
        columns: { id: "id", status: "status", list: ["action"] },
        counts: { completed: 20, failed: 10 },
        total: 30,
      });
      const [, first] = await json(await fetch(`${base}/tasks?limit=4`, { headers: auth }));
      assert.deepEqual(first.tasks.map((task: { id: string }) => task.id), ["t30", "t29", "t28", "t27"]);
      assert.deepEqual(Object.keys(first.tasks[0]), ["id", "status", "action"]);
      assert.deepEqual([first.total, first.offset, first.limit], [30, 0, 4]);
      const [, failed] = await json(await fetch(`${base}/tasks?status=failed&offset=8`, { headers: auth }));
      assert.deepEqual(failed.tasks.map((task: { id: string }) => task.id), ["t06", "t03"]);
      assert.equal(failed.total, 10);
      const [, one] = await json(await fetch(`${base}/tasks/t03`, { headers: auth }));
      assert.deepEqual(one, { task: { id: "t03", action: "sum", status: "failed", payload: '{"numbers":[1,2]}', result: null } });
      assert.deepEqual(await json(await fetch(`${base}/tasks/nope`, { headers: auth })), [404, { error: "no task has the id nope" }]);
      assert.deepEqual(await json(await fetch(`${base}/tasks?limit=0`, { headers: auth })), [400, { error: "limit must be an integer from 1 to 100" }]);
      assert.deepEqual(await json(await fetch(`${base}/tasks?offset=-1`, { headers: auth })), [400, { error: `offset must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}` }]);
    } finally {
      await running.stop();
    }
  });

  test("a tasks table that does not exist (yet) is reported, and the rest of the dashboard still works", async () => {
    const running = await startSnippet(GATEWAY + DATABASE + QUEUE + WITH_TASKS);
    try {
      const base = `${running.url()}/dashboard/api`;
      const auth = tokenHeader(running);
      const [status, overview] = await json(await fetch(`${base}/overview`, { headers: auth }));
      assert.equal(status, 200);
      assert.equal(overview.queues.length, 2);
      assert.deepEqual(overview.tasks.error, "cannot read the tasks table: sql failed on app:db: no such table: tasks");
      assert.deepEqual(await json(await fetch(`${base}/tasks`, { headers: auth })), [503, { error: "cannot read the tasks table: sql failed on app:db: no such table: tasks" }]);
    } finally {
      await running.stop();
    }
  });

  test("dead letters: listed newest first, a retry puts one back with fresh attempts, a discard deletes one", async () => {
    const running = await startSnippet(GATEWAY + QUEUE + DASHBOARD);
    try {
      const jobs = running.supervisor.component<QueueHandle>("app:jobs");
      await killOne(jobs, { n: 1 });
      await killOne(jobs, { n: 2 });
      const base = `${running.url()}/dashboard/api`;
      const auth = tokenHeader(running);
      const [status, page] = await json(await fetch(`${base}/dead?queue=app:jobs`, { headers: auth }));
      assert.equal(status, 200);
      assert.deepEqual(
        page.messages.map((message: { body: unknown; attempts: number; error: string }) => [message.body, message.attempts, message.error]),
        [
          [{ n: 2 }, 1, "boom"],
          [{ n: 1 }, 1, "boom"],
        ],
      );
      assert.equal(page.total, 2);
      assert.ok(!Number.isNaN(Date.parse(page.messages[0].diedAt)));

      const [newest, oldest] = page.messages as { id: string }[];
      const delivered = new Promise<Delivery>((resolve) => void jobs.consume({ prefetch: 1 }, resolve));
      const retried = await fetch(`${base}/dead/retry`, { method: "POST", headers: { ...ACTION, ...auth }, body: JSON.stringify({ queue: "app:jobs", id: newest.id }) });
      assert.deepEqual(await json(retried), [200, { queue: "app:jobs", id: newest.id, action: "retry" }]);
      const delivery = await delivered;
      assert.deepEqual([delivery.message.body, delivery.message.attempts], [{ n: 2 }, 1]);
      await delivery.ack();

      const discarded = await fetch(`${base}/dead/discard`, { method: "POST", headers: { ...ACTION, ...auth }, body: JSON.stringify({ queue: "app:jobs", id: oldest.id }) });
      assert.equal(discarded.status, 200);
      assert.equal((await jobs.stats()).dead, 0);
      const again = await fetch(`${base}/dead/discard`, { method: "POST", headers: { ...ACTION, ...auth }, body: JSON.stringify({ queue: "app:jobs", id: oldest.id }) });
      assert.deepEqual(await json(again), [404, { error: `app:jobs keeps no dead message ${oldest.id} (retried or discarded already?)` }]);
    } finally {
      await running.stop();
    }
  });

  test("dead-letter requests that cannot be served say why", async () => {
    const running = await startSnippet(GATEWAY + QUEUE + DASHBOARD);
    try {
      const base = `${running.url()}/dashboard/api`;
      const auth = tokenHeader(running);
      assert.deepEqual(await json(await fetch(`${base}/dead`, { headers: auth })), [404, { error: "say which queue: ?queue=<queue id>" }]);
      assert.deepEqual(await json(await fetch(`${base}/dead?queue=app:other`, { headers: auth })), [404, { error: "the dashboard shows no queue app:other" }]);
      const bad = await fetch(`${base}/dead/retry`, { method: "POST", headers: { ...ACTION, ...auth }, body: "{not json" });
      assert.deepEqual(await json(bad), [400, { error: 'the body must be JSON: {"queue": "<queue id>", "id": "<message id>"}' }]);
      const unheaded = await fetch(`${base}/dead/retry`, { method: "POST", headers: auth, body: JSON.stringify({ queue: "app:jobs", id: "x" }) });
      assert.deepEqual(await json(unheaded), [403, { error: "a dashboard action needs the x-taskrt-dashboard: 1 header" }]);
    } finally {
      await running.stop();
    }
  });

  test("with the token variable set, the API asks for the bearer token and the start says so", async () => {
    const variable = `TASKRT_TEST_DASHBOARD_TOKEN_${process.pid}`;
    process.env[variable] = "let-me-in";
    const running = await startSnippet(`${GATEWAY}${QUEUE}${DASHBOARD}    token_env: ${variable}\n`);
    try {
      const base = `${running.url()}/dashboard`;
      assert.deepEqual(await json(await fetch(`${base}/api/overview`)), [401, { error: "a bearer token is required" }]);
      const allowed = await fetch(`${base}/api/overview`, { headers: { authorization: "Bearer let-me-in" } });
      assert.equal(allowed.status, 200);
      assert.equal((await fetch(`${base}/`)).status, 200);
      const dashboard = running.supervisor.component<{ describe(): string }>("app:dashboard");
      assert.equal(dashboard.describe(), `dashboard at ${running.url()}/dashboard/: bearer token from ${variable}`);
    } finally {
      delete process.env[variable];
      await running.stop();
    }
  });

  test("without the token variable it generates a token, prints it in its address, and the API asks for it", async () => {
    const registry = `${GATEWAY}${QUEUE}${DASHBOARD}    token_env: TASKRT_TEST_UNSET_TOKEN\n`;
    const running = await startSnippet(registry);
    let token: string;
    try {
      const dashboard = running.supervisor.component<{ describe(): string }>("app:dashboard");
      const printed = /^dashboard at (\S+): token generated at start \(set TASKRT_TEST_UNSET_TOKEN to choose one\)$/.exec(dashboard.describe());
      assert.ok(printed, dashboard.describe());
      const address = new URL(printed[1]);
      assert.equal(`${address.origin}${address.pathname}`, `${running.url()}/dashboard/`);
      assert.match(address.hash, /^#token=[A-Za-z0-9_-]{32}$/);
      token = address.hash.slice("#token=".length);
      const base = `${running.url()}/dashboard/api`;
      assert.deepEqual(await json(await fetch(`${base}/overview`)), [
        401,
        { error: "a bearer token is required: TASKRT_TEST_UNSET_TOKEN is unset, so one was generated at start; open the dashboard's address that `taskrt run` printed, which carries it" },
      ]);
      assert.equal((await fetch(`${base}/overview`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
      assert.equal((await fetch(`${running.url()}/dashboard/`)).status, 200);
    } finally {
      await running.stop();
    }
    // Started again in the same process, as a --watch reload does: the open page's token still works.
    const again = await startSnippet(registry);
    try {
      assert.equal((await fetch(`${again.url()}/dashboard/api/overview`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    } finally {
      await again.stop();
    }
  });

  test("with a generated token, a page asked for under a foreign host name is refused (DNS rebinding)", async () => {
    const running = await startSnippet(`${GATEWAY}${QUEUE}${DASHBOARD}    token_env: TASKRT_TEST_UNSET_TOKEN\n`);
    try {
      const { port } = new URL(running.url());
      const answer = await new Promise<[number, string]>((resolve, reject) => {
        const request = httpRequest({ host: "127.0.0.1", port, path: "/dashboard/", headers: { host: `rebound.example:${port}` } }, (response) => {
          let body = "";
          response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
          response.on("end", () => resolve([response.statusCode ?? 0, body]));
        });
        request.on("error", reject).end();
      });
      assert.deepEqual([answer[0], JSON.parse(answer[1])], [
        403,
        { error: "the dashboard answers loopback host names only (localhost, 127.0.0.1, [::1]) while its token is generated; set TASKRT_TEST_UNSET_TOKEN to serve it under another name" },
      ]);
    } finally {
      await running.stop();
    }
  });
});
