import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { TestServices, callLua, createTestEngine, fakeDelivery, testContext } from "../test-support.ts";
import { MemoryQueueDriver } from "../../../drivers/queue/memory.ts";
import type { Delivery } from "../../../drivers/queue/driver.ts";
import { createMessageScope } from "../../../queue/message-scope.ts";
import { createLogger } from "../../../logger.ts";
import { waitUntil } from "../../../../test/support/wait.ts";

const source = `local queue = require("queue")
local kept
return {
  publish = function(id, data, headers)
    local ok, err = queue.publish(id, data, headers)
    if err then return { ok = ok == nil, message = err:message(), kind = err:kind() } end
    return { ok = ok }
  end,
  read = function(body)
    local msg = queue.message()
    kept = msg
    local first, first_err = msg:ack()
    local second, second_err = msg:ack()
    return { id = msg:id(), header = msg:header("trace"), missing = msg:header("nope"), headers = msg:headers(),
      attempts = msg:attempts(), body = msg:body().n, arg = body.n, first = first, second = second == nil,
      second_error = second_err:message(), second_kind = second_err:kind() }
  end,
  later = function()
    local id, err = kept:id()
    return { id = id == nil, message = err:message(), kind = err:kind() }
  end,
  pause_cycle = function(id)
    local paused, err = queue.pause(id)
    if err then return { error = err:message(), kind = err:kind() } end
    local during = queue.is_paused(id)
    local resumed = queue.resume(id)
    return { paused = paused, during = during, resumed = resumed, after = queue.is_paused(id) }
  end,
  report = function()
    local msg = queue.message()
    local ok = msg:progress(40)
    local ok2 = msg:progress({ done = 3, total = 10 })
    local bad, err = msg:progress("half")
    return { ok = ok, ok2 = ok2, bad = bad == nil, message = err:message(), kind = err:kind() }
  end,
  outside = function()
    local msg, err = queue.message()
    return { msg = msg == nil, message = err:message(), kind = err:kind() }
  end,
}`;

async function withEngine<T>(fn: (engine: Awaited<ReturnType<typeof createTestEngine>>, services: TestServices) => Promise<T>): Promise<T> {
  const engine = await createTestEngine(source, { modules: ["queue"] });
  const services = new TestServices([], ["app:tasks_queue"]);
  try {
    return await fn(engine, services);
  } finally {
    engine.close();
  }
}

describe("lua queue module", () => {
  test("queue.publish(id, data, headers) returns true and hands the queue the data as a plain value", async () => {
    await withEngine(async (engine, services) => {
      const context = testContext({ modules: ["queue"], services });
      const task = { id: "t1", action: "sum", data: { numbers: [1, 2.5] }, created_at: 1_700_000_000 };
      assert.deepEqual(await callLua(engine, "publish", ["app:tasks_queue", task, { trace: "abc", priority_hint: 2 }], context), { value: { ok: true } });
      assert.deepEqual(services.published, [{ queueId: "app:tasks_queue", body: task, headers: { trace: "abc", priority_hint: 2 } }]);
    });
  });

  test("queue.publish with a unique_key header returns true when published and false when dropped as a duplicate", async () => {
    await withEngine(async (engine, services) => {
      const context = testContext({ modules: ["queue"], services });
      const headers = { unique_key: "report:42", unique_for: "10m", trace: "t1" };
      assert.deepEqual(await callLua(engine, "publish", ["app:tasks_queue", { n: 1 }, headers], context), { value: { ok: true } });
      assert.deepEqual(await callLua(engine, "publish", ["app:tasks_queue", { n: 2 }, headers], context), { value: { ok: false } });
      assert.deepEqual(services.published, [{ queueId: "app:tasks_queue", body: { n: 1 }, headers: { trace: "t1" }, uniqueKey: "report:42", uniqueForMs: 600_000 }]);
      assert.deepEqual(await callLua(engine, "publish", ["app:tasks_queue", { n: 3 }, { unique_key: 7 }], context), {
        value: { ok: true, message: "bad argument #3 to 'publish' (unique_key must be a string, got number)", kind: "INVALID" },
      });
    });
  });

  test("publishing an empty table or nothing returns nil, err: message data cannot be empty", async () => {
    await withEngine(async (engine, services) => {
      const context = testContext({ modules: ["queue"], services });
      const expected = { value: { ok: true, message: "message data cannot be empty", kind: "INVALID" } };
      assert.deepEqual(await callLua(engine, "publish", ["app:tasks_queue", []], context), expected);
      assert.deepEqual(await callLua(engine, "publish", ["app:tasks_queue", {}], context), expected);
      assert.deepEqual(await callLua(engine, "publish", ["app:tasks_queue"], context), expected);
      assert.equal(services.published.length, 0);
    });
  });

  test("publishing to an unknown queue or without an id returns nil, err", async () => {
    await withEngine(async (engine, services) => {
      const context = testContext({ modules: ["queue"], services });
      assert.deepEqual(await callLua(engine, "publish", ["app:nope", { a: 1 }], context), {
        value: { ok: true, message: "queue app:nope not found", kind: "NOT_FOUND" },
      });
      assert.deepEqual(await callLua(engine, "publish", ["", { a: 1 }], context), {
        value: { ok: true, message: "queue id must be a non-empty string such as app:tasks_queue", kind: "INVALID" },
      });
      assert.deepEqual(await callLua(engine, "publish", [undefined, { a: 1 }], context), {
        value: { ok: true, message: "bad argument #1 to 'publish' (string expected, got nil)", kind: "INVALID" },
      });
    });
  });

  test("queue.pause(id) and queue.resume(id) return true and queue.is_paused(id) tells the state between them", async () => {
    await withEngine(async (engine, services) => {
      const context = testContext({ modules: ["queue"], services });
      assert.deepEqual(await callLua(engine, "pause_cycle", ["app:tasks_queue"], context), {
        value: { paused: true, during: true, resumed: true, after: false },
      });
      assert.deepEqual(await callLua(engine, "pause_cycle", ["app:nope"], context), { value: { error: "queue app:nope not found", kind: "NOT_FOUND" } });
    });
  });

  test("msg:progress(n | table) records the handler's progress on the delivery; a string is refused", async () => {
    await withEngine(async (engine) => {
      const driver = new MemoryQueueDriver({ id: "app:driver", maxLength: 10, logger: createLogger({ level: "error", sink: { write() {} } }) });
      await driver.start();
      await driver.declare("tasks");
      await driver.publish("tasks", { n: 1 }, {});
      const deliveries: Delivery[] = [];
      await driver.consume("tasks", { prefetch: 1 }, (delivery) => deliveries.push(delivery));
      await waitUntil(() => deliveries.length === 1, "the delivery");
      const scope = createMessageScope(deliveries[0], async () => {});
      const result = await callLua(engine, "report", [{ n: 1 }], testContext({ modules: ["queue"], message: scope }));
      assert.deepEqual(result.value, {
        ok: true,
        ok2: true,
        bad: true,
        message: "progress must be a finite number or a JSON object of at most 16384 bytes, found string",
        kind: "INVALID",
      });
      assert.deepEqual((await driver.listInFlight("tasks", { limit: 1, offset: 0 })).messages[0].progress, { done: 3, total: 10 });
      await driver.stop();
    });
  });

  test("queue.message() gives the delivery's message; its settlement is single-shot", async () => {
    await withEngine(async (engine) => {
      const delivery = fakeDelivery({ id: "m-9", body: { n: 3 }, headers: { trace: "abc" }, attempts: 2 });
      const result = await callLua(engine, "read", [{ n: 3 }], testContext({ modules: ["queue"], message: delivery }));
      assert.deepEqual(result.value, {
        id: "m-9",
        header: "abc",
        headers: { trace: "abc" },
        attempts: 2,
        body: 3,
        arg: 3,
        first: true,
        second: true,
        second_error: "message already settled",
        second_kind: "INVALID",
      });
      assert.deepEqual(delivery.settlements, ["ack"]);
    });
  });

  test("the message object stops working once its handler returned", async () => {
    await withEngine(async (engine) => {
      await callLua(engine, "read", [{ n: 1 }], testContext({ modules: ["queue"], message: fakeDelivery({ body: { n: 1 } }) }));
      assert.deepEqual((await callLua(engine, "later", [], testContext({ modules: ["queue"] }))).value, {
        id: true,
        message: "queue.Message released: it is valid only while its handler runs",
        kind: "INVALID",
      });
    });
  });

  test("queue.message() outside a consumer returns nil, err", async () => {
    await withEngine(async (engine) => {
      assert.deepEqual((await callLua(engine, "outside", [], testContext({ modules: ["queue"] }))).value, {
        msg: true,
        message: "no message: queue.message() works only inside a queue consumer's handler",
        kind: "INVALID",
      });
    });
  });
});
