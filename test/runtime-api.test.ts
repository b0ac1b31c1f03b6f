/**
 * What a user's test can do with a started runtime beside HTTP: publish to a queue and call a
 * function entry, through the same code paths a handler's `queue.publish` and a call take.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startRuntime, TaskrtError, type Runtime } from "../runtime/index.ts";
import { createLogger } from "../runtime/logger.ts";

const REGISTRY = fileURLToPath(new URL("./fixtures/runtime-api/_index.yaml", import.meta.url));

let runtime: Runtime;

before(async () => {
  runtime = await startRuntime({ path: REGISTRY, logger: createLogger({ level: "error" }) });
});

after(() => runtime.stop());

test("publish puts a message on a queue entry, and its consumer gets the body and headers", async () => {
  const id = await runtime.publish("app:inbox", { name: "Ada" }, { source: "test" });
  assert.equal(typeof id, "string");
  const deadline = Date.now() + 10_000;
  let received: unknown[] = [];
  while (received.length === 0 && Date.now() < deadline) {
    received = await runtime.call<unknown[]>("app:received");
    if (received.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.deepEqual(received, [{ body: { name: "Ada" }, header: "test" }]);
});

test("call runs a function entry with the arguments given and resolves with its result", async () => {
  assert.equal(await runtime.call<string>("app:greet", "Grace", "!"), "Hello, Grace!");
});

test("call rejects with what the function threw", async () => {
  await assert.rejects(runtime.call("app:refuse"), { message: "refused on purpose" });
});

test("call refuses an entry that is not a function, and an unknown id, saying what to call", async () => {
  await assert.rejects(runtime.call("app:inbox"), (error: unknown) => {
    assert.ok(error instanceof TaskrtError);
    assert.equal(error.code, "E_NOT_CALLABLE");
    assert.equal(error.message, "app:inbox is a queue.queue entry, not a function");
    assert.equal(error.hint, "call a function.* or process.* entry by its full id, e.g. app:create_task");
    return true;
  });
  await assert.rejects(runtime.call("app:nope"), { message: "app:nope is not an entry of this registry" });
});

test("publish to an id that is not a queue fails with the queue lookup's error", async () => {
  await assert.rejects(runtime.publish("app:greet", { name: "x" }), { code: "E_QUEUE_NOT_FOUND", message: "app:greet is a function.ts, not a queue" });
});
