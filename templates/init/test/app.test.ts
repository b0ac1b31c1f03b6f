/**
 * Starts the registry in this process, on a free port with a throwaway database, and checks one
 * request end to end: the endpoint queues a greeting, the consumer stores it, the list shows it.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startRuntime, type Runtime } from "taskrt";

process.env["TASKRT_LOG_LEVEL"] ??= "warn";

const REGISTRY = fileURLToPath(new URL("../_index.yaml", import.meta.url));

let runtime: Runtime | undefined;
let baseUrl = "";
const dataDirectory = mkdtempSync(path.join(tmpdir(), "taskrt-app-test-"));

before(async () => {
  runtime = await startRuntime({
    path: REGISTRY,
    overrides: ["app:gateway:addr=127.0.0.1:0", `app:db:file=${path.join(dataDirectory, "app.db")}`],
  });
  const { port } = runtime.component<{ address(): { port: number } }>("app:gateway").address();
  baseUrl = `http://127.0.0.1:${port}`;
});

after(async () => {
  await runtime?.stop();
  rmSync(dataDirectory, { recursive: true, force: true });
});

/** The stored greeting with this id, once the consumer has stored it (polls GET /greetings for up to 10 s). */
async function storedGreeting(id: string): Promise<{ id: string; message: string } | undefined> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const listed = (await (await fetch(`${baseUrl}/greetings`)).json()) as { greetings: { id: string; message: string }[] };
    const stored = listed.greetings.find((greeting) => greeting.id === id);
    if (stored) return stored;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return undefined;
}

test("a POSTed greeting is queued, stored by the consumer, and listed", async () => {
  const posted = await fetch(`${baseUrl}/greetings`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "Ada" }),
  });
  assert.equal(posted.status, 202);
  const { id } = (await posted.json()) as { id: string };
  const stored = await storedGreeting(id);
  assert.ok(stored, "the consumer stored the greeting within 10s");
  assert.equal(stored.message, "Hello, Ada!");
});

// runtime.publish puts a message straight on a queue (runtime.call("app:…", …args) calls a function).
test("a greeting published straight to the queue is stored by the consumer", async () => {
  const id = await runtime!.publish("app:greetings_queue", { name: "Grace" });
  assert.equal((await storedGreeting(id))?.message, "Hello, Grace!");
});

test("a POST without a name is refused with 400", async () => {
  const response = await fetch(`${baseUrl}/greetings`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  assert.equal(response.status, 400);
  assert.deepEqual(await response.json(), { error: 'name required, e.g. {"name": "Ada"}' });
});
