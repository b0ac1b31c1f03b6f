/**
 * The dashboard behind a reverse proxy on the same host that, like nginx's default `proxy_pass`,
 * connects from loopback, rewrites Host to the upstream's address and adds no forwarding header:
 * nothing in a relayed request tells it apart from a local one, so only the token may open the API.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Delivery, QueueHandle } from "../drivers/queue/driver.ts";
import { GATEWAY, startSnippet } from "../../test/support/registry.ts";

const REGISTRY = `${GATEWAY}
  - name: driver
    kind: queue.driver.memory
    lifecycle:
      auto_start: true
  - name: jobs
    kind: queue.queue
    driver: app:driver
    max_attempts: 1
  - name: dashboard
    kind: taskrt.dashboard
    meta:
      router: app:router
    token_env: TASKRT_TEST_PROXY_UNSET_TOKEN
`;

/** Forwards every request to `upstream` (`host:port`) with Host set to it and no forwarding header (X-Forwarded-For, Forwarded, X-Real-IP). */
function startHeaderlessProxy(upstream: { host: string; port: number }): Promise<Server> {
  const server = createServer((incoming, outgoing) => {
    const headers = { ...incoming.headers, host: `${upstream.host}:${upstream.port}` };
    const relayed = httpRequest({ ...upstream, method: incoming.method, path: incoming.url, headers }, (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(outgoing);
    });
    relayed.on("error", (error) => outgoing.writeHead(502).end(error.message));
    incoming.pipe(relayed);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/** Publishes one message and lets it fail its only attempt; resolves once it is a dead letter. */
async function killOne(jobs: QueueHandle): Promise<void> {
  await jobs.publish({ n: 1 });
  let failed!: () => void;
  const done = new Promise<void>((resolve) => (failed = resolve));
  const subscription = await jobs.consume({ prefetch: 1 }, (delivery: Delivery) => void jobs.fail(delivery, "boom").then(failed));
  await done;
  await subscription.cancel();
  for (const deadline = Date.now() + 10_000; (await jobs.stats()).dead === 0; ) {
    if (Date.now() > deadline) throw new Error("the message never became a dead letter");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("the dashboard behind a header-less reverse proxy", () => {
  let running: Awaited<ReturnType<typeof startSnippet>>;
  let proxy: Server;
  let through: string;
  let jobs: QueueHandle;

  before(async () => {
    running = await startSnippet(REGISTRY);
    proxy = await startHeaderlessProxy({ host: "127.0.0.1", port: Number(new URL(running.url()).port) });
    through = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/dashboard`;
    jobs = running.supervisor.component<QueueHandle>("app:jobs");
    await killOne(jobs);
  });

  after(async () => {
    await new Promise((resolve) => proxy?.close(resolve));
    await running?.stop();
  });

  test("without the token, the API answers 401 and a dead letter cannot be discarded through it", async () => {
    const overview = await fetch(`${through}/api/overview`);
    assert.equal(overview.status, 401);
    assert.equal((await fetch(`${through}/api/dead?queue=app:jobs`)).status, 401);
    const [letter] = (await jobs.deadLetters()!.list({ offset: 0, limit: 1 })).messages;
    const discard = await fetch(`${through}/api/dead/discard`, {
      method: "POST",
      headers: { "x-taskrt-dashboard": "1", "content-type": "application/json" },
      body: JSON.stringify({ queue: "app:jobs", id: letter.id }),
    });
    assert.equal(discard.status, 401);
    assert.equal((await jobs.stats()).dead, 1);
  });

  test("with the token from the printed address, the page works through the proxy", async () => {
    const dashboard = running.supervisor.component<{ address(): string }>("app:dashboard");
    const authorization = `Bearer ${new URL(dashboard.address()).hash.slice("#token=".length)}`;
    assert.equal((await fetch(`${through}/`)).status, 200);
    const listed = await fetch(`${through}/api/dead?queue=app:jobs`, { headers: { authorization } });
    assert.equal(listed.status, 200);
    const [letter] = ((await listed.json()) as { messages: { id: string }[] }).messages;
    const discard = await fetch(`${through}/api/dead/discard`, {
      method: "POST",
      headers: { authorization, "x-taskrt-dashboard": "1", "content-type": "application/json" },
      body: JSON.stringify({ queue: "app:jobs", id: letter.id }),
    });
    assert.equal(discard.status, 200);
    assert.equal((await jobs.stats()).dead, 0);
  });
});
