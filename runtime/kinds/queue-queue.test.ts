import { test, describe } from "node:test";
import assert from "node:assert/strict";
import queueKind, { createQueueEntry, type QueueEntry } from "./queue-queue.ts";
import driverKind from "./queue-driver-memory.ts";
import amqpDriverKind from "./queue-driver-amqp.ts";
import { AMQP_UNSUPPORTED } from "../drivers/queue/amqp-unsupported.ts";
import type { Component } from "../contracts/component.ts";
import type { Delivery, QueueDriver, QueueMessage } from "../drivers/queue/driver.ts";
import type { MemoryQueueDriver } from "../drivers/queue/memory.ts";
import { captureLogger } from "../../test/support/logs.ts";
import { buildContext, registryFrom, registryOf, type SnippetOptions } from "../../test/support/registry.ts";
import { waitUntil } from "../../test/support/wait.ts";

const FAST_BACKOFF = { initial: "5ms", factor: 2, max: "20ms", jitter: 0 };

/** A memory driver, the queue under test and an optional dead-letter queue, wired as the supervisor would. */
async function build(queueData: Record<string, unknown>, options: { random?: () => number; expectProblems?: SnippetOptions["expectProblems"] } = {}) {
  const { logger, lines } = captureLogger();
  const registry = await registryOf(
    [
      { name: "driver", kind: "queue.driver.memory" },
      { name: "tasks", kind: "queue.queue", driver: "app:driver", ...queueData },
      { name: "dlq", kind: "queue.queue", driver: "app:driver" },
    ],
    { expectProblems: options.expectProblems },
  );
  const entries = registry.entries;
  const components = new Map<string, Component>();
  const context = buildContext(registry, components, logger);
  const driver = driverKind.create(entries[0], context) as MemoryQueueDriver;
  components.set("app:driver", driver);
  const tasks = createQueueEntry(entries[1], context, { random: options.random });
  components.set("app:tasks", tasks);
  components.set("app:dlq", queueKind.create(entries[2], context));
  return { driver, tasks, dlq: components.get("app:dlq") as QueueEntry, lines, context, entries };
}

/** A delivery that records how it was settled, for exact policy checks. */
function fakeDelivery(attempts: number, headers: Record<string, string> = {}) {
  const settled: unknown[][] = [];
  const message: QueueMessage = { id: "m-1", body: { job: 1 }, headers: { timestamp: 1700000000, ...headers }, attempts };
  const delivery: Delivery = {
    message,
    ack: async () => void settled.push(["ack"]),
    retry: async (delayMs, error) => void settled.push(["retry", delayMs, error]),
    bury: async (error) => void settled.push(["bury", error]),
    release: async () => void settled.push(["release"]),
  };
  return { delivery, settled };
}

async function nextDelivery(queue: QueueEntry): Promise<{ delivery: Delivery; cancel: () => Promise<void> }> {
  const deliveries: Delivery[] = [];
  const subscription = await queue.consume({ prefetch: 1 }, (delivery) => deliveries.push(delivery));
  await waitUntil(() => deliveries.length > 0, "a delivery");
  return { delivery: deliveries[0], cancel: () => subscription.cancel() };
}

describe("queue.queue", () => {
  test("declares its queue on first publish, named after the entry unless queue_name says otherwise", async () => {
    const plain = await build({});
    await assert.rejects(plain.driver.stats("tasks"), { code: "E_QUEUE_NOT_DECLARED" });
    const id = await plain.tasks.publish({ job: 1 }, { source: "test" });
    assert.deepEqual(await plain.driver.stats("tasks"), { ready: 1, inFlight: 0, delayed: 0, dead: 0 });
    const { delivery } = await nextDelivery(plain.tasks);
    assert.equal(delivery.message.id, id);
    assert.equal(delivery.message.headers.source, "test");

    const named = await build({ queue_name: "jobs" });
    await named.tasks.publish(1);
    assert.equal((await named.driver.stats("jobs")).ready, 1);
    assert.deepEqual(await named.tasks.stats(), { ready: 1, inFlight: 0, delayed: 0, dead: 0 });
  });

  test("passes driver_options.memory to the memory driver", async () => {
    const { tasks, driver } = await build({ driver_options: { memory: { max_length: 1 } } });
    await driver.start();
    await tasks.publish(1);
    let second = false;
    void tasks.publish(2).then(() => (second = true), () => (second = true));
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(second, false);
    await driver.stop();
  });

  test("a failed declare is reported with the queue and driver, and tried again on the next publish", async () => {
    const { logger } = captureLogger();
    let declares = 0;
    const flaky = {
      id: "app:flaky",
      durable: false,
      declare: async () => {
        if (++declares === 1) throw new Error("disk full");
      },
      publish: async () => "id-1",
      consume: async () => ({ cancel: async () => {} }),
      stats: async () => ({ ready: 0, inFlight: 0, delayed: 0, dead: 0 }),
      start: async () => {},
      stop: async () => {},
    } satisfies QueueDriver;
    const registry = await registryOf([
      { name: "flaky", kind: "queue.driver.memory" },
      { name: "tasks", kind: "queue.queue", driver: "app:flaky" },
    ]);
    const entries = registry.entries;
    const context = buildContext(registry, new Map<string, Component>([["app:flaky", flaky]]), logger);
    const tasks = createQueueEntry(entries[1], context);
    await assert.rejects(tasks.publish(1), {
      code: "E_QUEUE_DECLARE",
      message: "queue app:tasks: declaring 'tasks' on app:flaky failed: disk full",
    });
    assert.equal(await tasks.publish(1), "id-1");
    assert.equal(declares, 2);
  });

  test("refuses a driver reference that is not a queue driver", async () => {
    const { logger } = captureLogger();
    // The validator reports it (E_REF_KIND); the kind refuses it too when built without that check.
    const registry = await registryFrom(
      `
      - name: db
        kind: db.sql.sqlite
        file: tasks.db
      - name: tasks
        kind: queue.queue
        driver: app:db
      `,
      { expectProblems: ["E_REF_KIND"] },
    );
    const context = buildContext(registry, new Map<string, Component>([["app:db", {}]]), logger);
    assert.throws(() => createQueueEntry(registry.byId.get("app:tasks")!, context), {
      code: "E_QUEUE_DRIVER",
      message: "queue app:tasks: app:db is not a queue driver",
    });
  });

  test("fail() below max_attempts retries after the backoff delay for that attempt, with jitter", async () => {
    // random 0.75 spreads by +0.5 of the jitter (0.5): every delay × 1.25, capped at max.
    const { tasks } = await build({ max_attempts: 5, backoff: { initial: "100ms", factor: 2, max: "300ms", jitter: 0.5 } }, { random: () => 0.75 });
    const delays: unknown[] = [];
    for (const attempts of [1, 2, 3, 4]) {
      const { delivery, settled } = fakeDelivery(attempts);
      await tasks.fail(delivery, "boom");
      delays.push(settled[0]);
    }
    assert.deepEqual(delays, [
      ["retry", 125, "boom"],
      ["retry", 250, "boom"],
      ["retry", 300, "boom"],
      ["retry", 300, "boom"],
    ]);
  });

  test("counts attempts through the driver and buries after max_attempts with an error line", async () => {
    const { tasks, driver, lines } = await build({ max_attempts: 3, backoff: FAST_BACKOFF });
    const id = await tasks.publish({ job: "poison" });
    const seen: number[] = [];
    await tasks.consume({ prefetch: 1 }, (delivery) => {
      seen.push(delivery.message.attempts);
      void tasks.fail(delivery, `failure ${delivery.message.attempts}`);
    });
    await waitUntil(() => driver.deadMessages("tasks").length === 1, "the message to be buried");
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(driver.deadMessages("tasks")[0].error, "failure 3");
    const line = lines.find((record) => record.level === "error");
    assert.deepEqual(
      { entry: line?.entry, msg: line?.msg, messageId: line?.messageId },
      { entry: "app:tasks", msg: `message ${id} failed 3 of 3 attempts and was buried: failure 3`, messageId: id },
    );
  });

  test("after max_attempts a dead_letter queue receives the body with the original headers and why it died", async () => {
    const { tasks, dlq, driver, lines } = await build({ max_attempts: 2, backoff: FAST_BACKOFF, dead_letter: "dlq" });
    const before = Math.floor(Date.now() / 1000);
    const id = await tasks.publish({ job: "poison" }, { correlation_id: "c-9" });
    await tasks.consume({ prefetch: 1 }, (delivery) => void tasks.fail(delivery, "cannot parse"));
    const { delivery } = await nextDelivery(dlq);
    assert.deepEqual(delivery.message.body, { job: "poison" });
    const headers = delivery.message.headers;
    assert.equal(headers.correlation_id, "c-9");
    assert.equal(headers.x_dead_reason, "cannot parse");
    assert.equal(headers.x_attempts, 2);
    assert.equal(headers.x_original_queue, "app:tasks");
    assert.ok(typeof headers.x_failed_at === "number" && headers.x_failed_at >= before);
    assert.equal(headers.x_last_error, "cannot parse");
    assert.deepEqual(await driver.stats("tasks"), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
    assert.deepEqual(await tasks.deadLetters()!.list({ limit: 10, offset: 0 }), { messages: [], total: 0 });
    assert.ok(lines.some((line) => line.level === "warn" && line.msg === `message ${id} failed 2 attempts and was moved to app:dlq: cannot parse`));
  });

  test("with dead_letter.keep the dead-letter queue gets the message and it also stays dead here, to retry or discard", async () => {
    const { tasks, dlq, lines } = await build({ max_attempts: 2, backoff: FAST_BACKOFF, dead_letter: { queue: "dlq", keep: true } });
    const id = await tasks.publish({ job: "poison" }, { correlation_id: "c-9" });
    const attempts: number[] = [];
    await tasks.consume({ prefetch: 1 }, (delivery) => {
      attempts.push(delivery.message.attempts);
      void tasks.fail(delivery, "cannot parse");
    });
    const forwarded = await nextDelivery(dlq);
    assert.deepEqual(forwarded.delivery.message.body, { job: "poison" });
    assert.equal(forwarded.delivery.message.headers.x_original_queue, "app:tasks");
    await forwarded.cancel();

    const deadLetters = tasks.deadLetters()!;
    await waitUntil(() => attempts.length === 2, "two attempts");
    const page = await deadLetters.list({ limit: 10, offset: 0 });
    assert.equal(page.total, 1);
    assert.deepEqual(
      { id: page.messages[0].id, body: page.messages[0].body, correlation: page.messages[0].headers.correlation_id, attempts: page.messages[0].attempts, error: page.messages[0].error },
      { id, body: { job: "poison" }, correlation: "c-9", attempts: 2, error: "cannot parse" },
    );
    assert.equal((await tasks.stats()).dead, 1);
    assert.ok(lines.some((line) => line.level === "warn" && line.msg === `message ${id} failed 2 attempts and was sent to app:dlq and kept here as dead: cannot parse`));

    // Retried from the dashboard: delivered again from attempt 1.
    assert.equal(await deadLetters.retry(id), true);
    await waitUntil(() => attempts.length === 3, "the retried delivery");
    assert.equal(attempts[2], 1);
  });

  test("dead_letter.keep buries after the dead-letter publish instead of acking", async () => {
    const { tasks } = await build({ max_attempts: 1, dead_letter: { queue: "app:dlq", keep: true } });
    const { delivery, settled } = fakeDelivery(1);
    await tasks.fail(delivery, "boom");
    assert.deepEqual(settled, [["bury", "boom"]]);
    assert.equal(tasks.describe(), "queue 'tasks' on app:driver, 1 attempts, dead letters to app:dlq, kept here too");
  });

  test("deadLetters() is bound to the queue's name on the driver and declares it first", async () => {
    const { tasks, driver } = await build({ queue_name: "jobs" });
    const deadLetters = tasks.deadLetters()!;
    assert.deepEqual(await deadLetters.list({ limit: 5, offset: 0 }), { messages: [], total: 0 });
    const id = await tasks.publish("doomed");
    const { delivery, cancel } = await nextDelivery(tasks);
    await cancel();
    await delivery.bury("fatal");
    assert.deepEqual((await driver.listDead("jobs", { limit: 5, offset: 0 })).messages.map((message) => message.id), [id]);
    assert.equal(await deadLetters.discard("unknown"), false);
    assert.equal(await deadLetters.discard(id), true);
    assert.equal((await tasks.stats()).dead, 0);
  });

  test("deadLetters() refuses a page that is not a positive limit and an offset of at least 0", async () => {
    const deadLetters = (await build({})).tasks.deadLetters()!;
    for (const page of [{ limit: 0, offset: 0 }, { limit: 10, offset: -1 }, { limit: 1.5, offset: 0 }]) {
      await assert.rejects(deadLetters.list(page), {
        code: "E_QUEUE_OPTIONS",
        message: `queue app:tasks: messages are listed with a whole-number limit of at least 1 and offset of at least 0, got limit ${page.limit}, offset ${page.offset}`,
      });
    }
  });

  test("deadLetters() is undefined when the driver keeps no dead-letter store", async () => {
    const { logger } = captureLogger();
    const plain = {
      id: "app:broker",
      durable: true,
      declare: async () => {},
      publish: async () => "id-1",
      consume: async () => ({ cancel: async () => {} }),
      stats: async () => ({ ready: 0, inFlight: 0, delayed: 0, dead: 0 }),
      start: async () => {},
      stop: async () => {},
    } satisfies QueueDriver;
    const registry = await registryOf([
      { name: "broker", kind: "queue.driver.amqp" },
      { name: "tasks", kind: "queue.queue", driver: "app:broker" },
    ]);
    const entries = registry.entries;
    const context = buildContext(registry, new Map<string, Component>([["app:broker", plain]]), logger);
    assert.equal(createQueueEntry(entries[1], context).deadLetters(), undefined);
  });

  test("dead_letter.max_attempts takes precedence over max_attempts", async () => {
    const { tasks } = await build({ max_attempts: 5, dead_letter: { queue: "app:dlq", max_attempts: 2 } }, { random: () => 0.5 });
    const first = fakeDelivery(1);
    await tasks.fail(first.delivery, "e");
    assert.equal(first.settled[0][0], "retry");
    const second = fakeDelivery(2);
    await tasks.fail(second.delivery, "e");
    assert.deepEqual(second.settled, [["ack"]]);
  });

  test("a dead-letter publish that fails buries the message with both errors", async () => {
    // A dead letter naming no entry is a reference problem; the queue still copes when built without the check.
    const { tasks, lines } = await build({ max_attempts: 1, dead_letter: "app:gone" }, { expectProblems: ["E_REF_UNRESOLVED"] });
    const { delivery, settled } = fakeDelivery(1);
    await tasks.fail(delivery, "boom");
    const reason = "boom; dead-letter publish to app:gone failed: queue app:gone not found";
    assert.deepEqual(settled, [["bury", reason]]);
    assert.ok(lines.some((line) => line.level === "error" && line.msg === `message m-1 failed 1 attempt and was buried: ${reason}`));
  });

  test("an unparsable backoff duration names the entry and field", async () => {
    // The validator refuses it first (E_SCHEMA); the kind still says what is wrong when built without it.
    await assert.rejects(build({ backoff: { initial: "soon" } }, { expectProblems: ["E_SCHEMA"] }), {
      code: "E_QUEUE_BACKOFF",
      message: 'entry app:tasks: backoff.initial invalid duration "soon"',
    });
  });

  test("describe names the queue, driver and what happens to failures", async () => {
    assert.equal((await build({})).tasks.describe(), "queue 'tasks' on app:driver, 5 attempts, then buried");
    assert.equal((await build({ dead_letter: "dlq" })).tasks.describe(), "queue 'tasks' on app:driver, 5 attempts, dead letters to app:dlq");
  });

  test("declares its references: a queue.driver.* driver and a queue.queue dead letter", () => {
    assert.deepEqual(queueKind.references.map((reference) => reference.path.join(".")), ["driver", "dead_letter", "dead_letter.queue"]);
    assert.equal(queueKind.service, false);
  });
});

describe("queue.queue retention", () => {
  test("retention {max_count, max_age} is applied to the queue's dead messages in the background, every minute", async (t) => {
    t.mock.timers.enable({ apis: ["setInterval"] });
    const { driver, tasks } = await build({ retention: { max_count: 1, max_age: "168h" } });
    await driver.start();
    const ids: string[] = [];
    for (let index = 0; index < 3; index++) ids.push(await tasks.publish({ index }));
    const deliveries: Delivery[] = [];
    const subscription = await tasks.consume({ prefetch: 3 }, (delivery) => deliveries.push(delivery));
    await waitUntil(() => deliveries.length === 3, "3 deliveries");
    await subscription.cancel();
    for (const delivery of deliveries) await delivery.bury("poison");
    assert.equal((await tasks.stats()).dead, 3);
    t.mock.timers.tick(60_000);
    await waitUntil(async () => (await tasks.stats()).dead === 1, "the retention to prune all but the newest");
    assert.deepEqual((await tasks.deadLetters()!.list({ limit: 5, offset: 0 })).messages.map((message) => message.id), [ids[2]]);
    await driver.stop();
  });
});

describe("queue.queue on RabbitMQ: the capabilities it cannot offer", () => {
  async function onRabbit(): Promise<QueueEntry> {
    const { logger } = captureLogger();
    const registry = await registryOf([
      { name: "rabbit", kind: "queue.driver.amqp" },
      { name: "jobs", kind: "queue.queue", driver: "app:rabbit" },
    ]);
    const components = new Map<string, Component>();
    const context = buildContext(registry, components, logger);
    components.set("app:rabbit", amqpDriverKind.create(registry.entries[0], context));
    return createQueueEntry(registry.entries[1], context);
  }

  test("pause, resume and isPaused are refused with RabbitMQ's reason, before any connection is tried", async () => {
    const jobs = await onRabbit();
    const reason = AMQP_UNSUPPORTED.pause!;
    await assert.rejects(jobs.pause(), { code: "E_QUEUE_UNSUPPORTED", message: `queue app:jobs cannot pause: it is on app:rabbit, and ${reason}` });
    await assert.rejects(jobs.resume(), { code: "E_QUEUE_UNSUPPORTED", message: `queue app:jobs cannot resume: it is on app:rabbit, and ${reason}` });
    await assert.rejects(jobs.isPaused(), { code: "E_QUEUE_UNSUPPORTED" });
    assert.match(reason, /^RabbitMQ keeps no pause state/);
    assert.equal(jobs.refusal("pause"), reason);
  });

  test("a retention is refused when the entry is built, with RabbitMQ's reason", async () => {
    const { logger } = captureLogger();
    const registry = await registryOf([
      { name: "rabbit", kind: "queue.driver.amqp" },
      { name: "jobs", kind: "queue.queue", driver: "app:rabbit", retention: { max_count: 10 } },
    ]);
    const components = new Map<string, Component>();
    const context = buildContext(registry, components, logger);
    components.set("app:rabbit", amqpDriverKind.create(registry.entries[0], context));
    assert.throws(() => createQueueEntry(registry.entries[1], context), {
      code: "E_QUEUE_UNSUPPORTED",
      message: `queue app:jobs cannot keep a retention: it is on app:rabbit, and ${AMQP_UNSUPPORTED.retention}`,
    });
  });

  test("consuming with a rate is refused with RabbitMQ's reason", async () => {
    const jobs = await onRabbit();
    await assert.rejects(jobs.consume({ prefetch: 1, rates: [{ limit: 1, perMs: 1000, key: "k" }] }, () => undefined), {
      code: "E_QUEUE_UNSUPPORTED",
      message: `queue app:jobs cannot limit its rate: it is on app:rabbit, and ${AMQP_UNSUPPORTED.rate}`,
    });
  });

  test("a publish with a unique_key is refused with RabbitMQ's reason", async () => {
    const jobs = await onRabbit();
    await assert.rejects(jobs.publishUnique({ n: 1 }, {}, { uniqueKey: "k" }), {
      code: "E_QUEUE_UNSUPPORTED",
      message: `queue app:jobs cannot publish with a unique_key: it is on app:rabbit, and ${AMQP_UNSUPPORTED.unique}`,
    });
  });
});
