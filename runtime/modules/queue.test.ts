import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { queue } from "./queue.ts";
import { runInContext, type CallContext } from "./context.ts";
import queueKind from "../kinds/queue-queue.ts";
import driverKind from "../kinds/queue-driver-memory.ts";
import type { Component } from "../contracts/component.ts";
import type { Delivery } from "../drivers/queue/driver.ts";
import type { MemoryQueueDriver } from "../drivers/queue/memory.ts";
import { createMessageScope } from "../queue/message-scope.ts";
import { AMQP_UNSUPPORTED } from "../drivers/queue/amqp-unsupported.ts";
import { captureLogger } from "../../test/support/logs.ts";
import { buildContext, registryFrom } from "../../test/support/registry.ts";
import { waitUntil } from "../../test/support/wait.ts";

const REGISTRY = await registryFrom(`
  - name: driver
    kind: queue.driver.memory
  - name: tasks
    kind: queue.queue
    driver: app:driver
`);

function setup(modules: string[] = ["queue"]) {
  const { logger } = captureLogger();
  const components = new Map<string, Component>();
  const build = buildContext(REGISTRY, components, logger);
  const driver = driverKind.create(REGISTRY.byId.get("app:driver")!, build) as MemoryQueueDriver;
  components.set("app:driver", driver);
  components.set("app:tasks", queueKind.create(REGISTRY.byId.get("app:tasks")!, build));
  const context: CallContext = { entryId: "app:create_task", modules: new Set(modules), services: build.services, logger };
  const run = <T>(fn: () => T, extra: Partial<CallContext> = {}): T => runInContext({ ...context, ...extra }, fn);
  return { driver, run };
}

async function deliveries(driver: MemoryQueueDriver, count: number): Promise<Delivery[]> {
  const received: Delivery[] = [];
  await driver.consume("tasks", { prefetch: 100 }, (delivery) => received.push(delivery));
  await waitUntil(() => received.length === count, `${count} deliveries`);
  return received;
}

describe("queue module", () => {
  test("publish resolves with the message id and the consumer gets the data and headers", async () => {
    const { driver, run } = setup();
    const id = await run(() => queue.publish("app:tasks", { action: "sum", data: { numbers: [1, 2] } }, { source: "api", retries: 2 }));
    const [delivery] = await deliveries(driver, 1);
    assert.equal(delivery.message.id, id);
    assert.deepEqual(delivery.message.body, { action: "sum", data: { numbers: [1, 2] } });
    assert.equal(delivery.message.headers.source, "api");
    assert.equal(delivery.message.headers.retries, 2);
  });

  test("the options form {headers, delay, priority} sets headers, delay and priority", async () => {
    const { driver, run } = setup();
    await run(() => queue.publish("app:tasks", "later", { delay: "1m" }));
    await run(() => queue.publish("app:tasks", "low", { headers: { source: "a" } }));
    await run(() => queue.publish("app:tasks", "high", { headers: { source: "b" }, priority: 9 }));
    assert.deepEqual(await driver.stats("tasks"), { ready: 2, inFlight: 0, delayed: 1, dead: 0 });
    const received = await deliveries(driver, 2);
    assert.deepEqual(received.map((delivery) => [delivery.message.body, delivery.message.headers.source]), [["high", "b"], ["low", "a"]]);
  });

  test("an object with other keys, or option keys of other types, is taken as headers", async () => {
    const { driver, run } = setup();
    await run(() => queue.publish("app:tasks", 1, { priority: "high", kind: "soon" }));
    await run(() => queue.publish("app:tasks", 2, { headers: "x", source: "y" } as never));
    const received = await deliveries(driver, 2);
    assert.equal(received[0].message.headers.priority, "high");
    assert.equal(received[0].message.headers.kind, "soon");
    assert.equal(received[1].message.headers.source, "y");
  });

  test("publish with unique_key resolves to {id, duplicate}: a second one while the first waits is dropped and names the first", async () => {
    const { driver, run } = setup();
    const first = await run(() => queue.publish("app:tasks", { report: 42 }, { unique_key: "report:42", headers: { source: "a" } }));
    assert.equal(first.duplicate, false);
    const second = await run(() => queue.publish("app:tasks", { report: 42 }, { unique_key: "report:42", unique_for: "1m" }));
    assert.deepEqual(second, { id: first.id, duplicate: true });
    const [delivery] = await deliveries(driver, 1);
    assert.equal(delivery.message.id, first.id);
    assert.equal(delivery.message.headers.source, "a");
    assert.deepEqual(await driver.stats("tasks"), { ready: 0, inFlight: 1, delayed: 0, dead: 0 });
    await assert.rejects(run(() => queue.publish("app:tasks", 1, { unique_key: "k", unique_for: "soon" })), {
      code: "E_INVALID_DELAY",
      message: 'publish unique_for: invalid duration "soon"',
    });
  });

  test("pause(id) holds the queue's messages from its consumers until resume(id); isPaused tells which", async () => {
    const { driver, run } = setup();
    await run(() => queue.pause("app:tasks"));
    assert.equal(await run(() => queue.isPaused("app:tasks")), true);
    await run(() => queue.publish("app:tasks", "held"));
    const received: Delivery[] = [];
    await driver.consume("tasks", { prefetch: 10 }, (delivery) => received.push(delivery));
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(received.length, 0);
    await run(() => queue.resume("app:tasks"));
    assert.equal(await run(() => queue.isPaused("app:tasks")), false);
    await waitUntil(() => received.length === 1, "the held message after resume");
    assert.equal(received[0].message.body, "held");
    await assert.rejects(run(() => queue.pause("app:nope")), { code: "E_QUEUE_NOT_FOUND", message: "queue app:nope not found" });
  });

  test("publish from an entry that does not declare the module is refused", async () => {
    const { run } = setup(["http"]);
    await assert.rejects(run(() => queue.publish("app:tasks", { a: 1 })), {
      code: "E_MODULE_NOT_DECLARED",
      message: "entry app:create_task used module 'queue' but does not declare it",
    });
    assert.throws(() => run(() => queue.message()), { code: "E_MODULE_NOT_DECLARED" });
  });

  test("publish outside a handler is refused", async () => {
    await assert.rejects(queue.publish("app:tasks", { a: 1 }), {
      code: "E_NO_CONTEXT",
      message: "module 'queue' was called outside a handler",
    });
  });

  test("empty data is refused: undefined, null, {} and []", async () => {
    const { run } = setup();
    for (const data of [undefined, null, {}, []]) {
      await assert.rejects(run(() => queue.publish("app:tasks", data)), {
        code: "E_INVALID_MESSAGE",
        message: "message data cannot be empty",
      });
    }
  });

  test("an empty queue id is refused", async () => {
    const { run } = setup();
    await assert.rejects(run(() => queue.publish("", { a: 1 })), {
      code: "E_INVALID_QUEUE_ID",
      message: "queue id must be a non-empty string such as app:tasks_queue",
    });
  });

  test("an unknown queue id is E_QUEUE_NOT_FOUND, keeping the lookup's hint", async () => {
    const { run } = setup();
    await assert.rejects(run(() => queue.publish("app:taks", { a: 1 })), (error: Error & { code?: string; hint?: string }) => {
      assert.equal(error.code, "E_QUEUE_NOT_FOUND");
      assert.equal(error.message, "queue app:taks not found");
      assert.equal(error.hint, "did you mean app:tasks?");
      return true;
    });
  });

  test("reserved headers (x_* and attempts) are refused", async () => {
    const { run } = setup();
    await assert.rejects(run(() => queue.publish("app:tasks", 1, { x_dead_reason: "no" })), {
      code: "E_RESERVED_HEADER",
      message: "header 'x_dead_reason' is reserved for the runtime (x_* and attempts)",
    });
    await assert.rejects(run(() => queue.publish("app:tasks", 1, { headers: { attempts: 3 } })), {
      code: "E_RESERVED_HEADER",
      message: "header 'attempts' is reserved for the runtime (x_* and attempts)",
    });
  });

  test("header values other than string, number or boolean are refused", async () => {
    const { run } = setup();
    await assert.rejects(run(() => queue.publish("app:tasks", 1, { nested: { a: 1 } } as never)), {
      code: "E_INVALID_HEADER",
      message: "header 'nested' must be a string, number or boolean, got object",
    });
  });

  test("an invalid delay is refused", async () => {
    const { run } = setup();
    await assert.rejects(run(() => queue.publish("app:tasks", 1, { delay: -5 })), {
      code: "E_INVALID_DELAY",
      message: "publish delay: invalid duration -5",
    });
  });

  test("a delay header that is not a duration is refused rather than ignored", async () => {
    const { run } = setup();
    await assert.rejects(run(() => queue.publish("app:tasks", 1, { delay: "soon", source: "api" })), {
      code: "E_INVALID_DELAY",
      message: 'publish delay: invalid duration "soon"',
    });
  });

  test("a driver failure is reported as it is", async () => {
    const { driver, run } = setup();
    await driver.stop();
    await assert.rejects(run(() => queue.publish("app:tasks", 1)), {
      code: "E_QUEUE_STOPPED",
      message: "queue driver app:driver is stopped: queue 'tasks' is unavailable",
    });
  });

  test("message() outside a consumer's handler is refused", () => {
    const { run } = setup();
    assert.throws(() => run(() => queue.message()), {
      code: "E_NO_DELIVERY",
      message: "no message: queue.message() works only inside a queue consumer's handler",
    });
  });

  test("message().progress(n | object) is listed with the message in flight; after the ack it is refused", async () => {
    const { driver, run } = setup();
    await run(() => queue.publish("app:tasks", { job: 1 }));
    const [delivery] = await deliveries(driver, 1);
    const scope = createMessageScope(delivery, () => delivery.retry(0, "nack"));
    const message = run(() => queue.message(), { message: scope });
    await message.progress(25);
    assert.equal((await driver.listInFlight("tasks", { limit: 5, offset: 0 })).messages[0].progress, 25);
    await message.progress({ done: 3, total: 12 });
    assert.deepEqual((await driver.listInFlight("tasks", { limit: 5, offset: 0 })).messages[0].progress, { done: 3, total: 12 });
    await message.ack();
    await assert.rejects(message.progress(100), { code: "E_ALREADY_SETTLED", message: `message ${delivery.message.id} is already settled (ack); progress refused` });
  });

  test("message().progress on a driver that keeps none is refused with the driver's reason", async () => {
    const { run } = setup();
    const delivery: Delivery = {
      message: { id: "m-1", body: 1, headers: {}, attempts: 1 },
      ack: async () => {},
      retry: async () => {},
      bury: async () => {},
      release: async () => {},
    };
    const scope = createMessageScope(delivery, async () => {}, AMQP_UNSUPPORTED.progress);
    await assert.rejects(run(() => queue.message(), { message: scope }).progress(10), {
      code: "E_QUEUE_UNSUPPORTED",
      message: `message m-1: progress cannot be recorded: ${AMQP_UNSUPPORTED.progress}`,
    });
  });

  test("message() reads the delivery and settles it once", async () => {
    const { driver, run } = setup();
    await run(() => queue.publish("app:tasks", { job: 1 }, { source: "t" }));
    const [delivery] = await deliveries(driver, 1);
    const scope = createMessageScope(delivery, () => delivery.retry(0, "nack"));
    const message = run(() => queue.message(), { message: scope });
    assert.equal(message.id(), delivery.message.id);
    assert.deepEqual(message.body(), { job: 1 });
    assert.equal(message.header("source"), "t");
    assert.equal(message.attempts(), 1);
    message.headers().source = "changed";
    assert.equal(message.header("source"), "t");
    await message.ack();
    assert.equal(scope.settled, "ack");
    await assert.rejects(message.nack(), { code: "E_ALREADY_SETTLED", message: "message already settled" });
    assert.deepEqual(await driver.stats("tasks"), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
  });
});
