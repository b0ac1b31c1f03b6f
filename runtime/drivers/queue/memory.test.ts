import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { queueDriverContract } from "./contract.ts";
import { createMemoryQueueDriver, DEAD_MESSAGES_KEPT, type MemoryQueueDriver } from "./memory.ts";
import type { Delivery } from "./driver.ts";
import { captureLogger } from "../../../test/support/logs.ts";
import { sleep, waitUntil } from "../../../test/support/wait.ts";

function makeDriver(maxLength = 1000): { driver: MemoryQueueDriver; lines: ReturnType<typeof captureLogger>["lines"] } {
  const { logger, lines } = captureLogger();
  return { driver: createMemoryQueueDriver({ id: "app:memory", maxLength, logger: logger.forEntry("app:memory") }), lines };
}

queueDriverContract("memory", async () => makeDriver().driver);

describe("memory queue driver", () => {
  test("start warns once that queued messages are lost on exit, even across restarts", async () => {
    const { driver, lines } = makeDriver();
    await driver.start();
    await driver.stop();
    await driver.start();
    await driver.stop();
    const warnings = lines.filter((line) => line.msg.startsWith("queued messages are lost"));
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].level, "warn");
    assert.equal(warnings[0].entry, "app:memory");
    assert.equal(warnings[0].msg, "queued messages are lost on exit: the memory driver keeps them in this process only");
  });

  test("publish waits while the queue holds max_length messages and resolves once one is delivered", async () => {
    const { driver } = makeDriver(2);
    await driver.start();
    try {
      await driver.declare("q");
      await driver.publish("q", 1, {});
      await driver.publish("q", 2, {});
      let thirdDone = false;
      const third = driver.publish("q", 3, {}).then((id) => {
        thirdDone = true;
        return id;
      });
      await sleep(30);
      assert.equal(thirdDone, false);
      assert.equal((await driver.stats("q")).ready, 2);
      const deliveries: Delivery[] = [];
      await driver.consume("q", { prefetch: 1 }, (delivery) => deliveries.push(delivery));
      const id = await third;
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.deepEqual(await driver.stats("q"), { ready: 2, inFlight: 1, delayed: 0, dead: 0 });
    } finally {
      await driver.stop();
    }
  });

  test("a publish that waits longer than publish_timeout fails with E_QUEUE_FULL and is never admitted later", async () => {
    const { logger } = captureLogger();
    const driver = createMemoryQueueDriver({ id: "app:memory", maxLength: 1, publishTimeoutMs: 40, logger });
    await driver.start();
    try {
      await driver.declare("q");
      await driver.publish("q", "first", {});
      await assert.rejects(driver.publish("q", "second", {}), {
        code: "E_QUEUE_FULL",
        message: 'queue "q" on app:memory stayed full for 40ms; the message was not published',
      });
      const bodies: unknown[] = [];
      await driver.consume("q", { prefetch: 10 }, (delivery) => {
        bodies.push(delivery.message.body);
        void delivery.ack();
      });
      await driver.publish("q", "third", {});
      await waitUntil(() => bodies.length === 2, "two deliveries");
      assert.deepEqual(bodies, ["first", "third"]);
    } finally {
      await driver.stop();
    }
  });

  test("a prepared publish (inside a transaction) has its id and copy at once and enters only when admitted, behind earlier publishers", async () => {
    const { driver } = makeDriver(1);
    await driver.start();
    try {
      await driver.declare("q");
      await driver.publish("q", "first", {});
      const waiting = driver.publish("q", "second", {});
      const body = { text: "prepared" };
      const prepared = driver.preparePublish("q", body, { source: "tx" });
      body.text = "changed after publishing";
      assert.match(prepared.id, /^[0-9a-f-]{36}$/);
      assert.equal((await driver.stats("q")).ready, 1, "not in the queue before admit()");
      let admitted = false;
      const admission = prepared.admit().then(() => (admitted = true));
      const bodies: unknown[] = [];
      const ids: string[] = [];
      await driver.consume("q", { prefetch: 10 }, (delivery) => {
        bodies.push(delivery.message.body);
        ids.push(delivery.message.id);
        void delivery.ack();
      });
      await waiting;
      await admission;
      assert.equal(admitted, true);
      await waitUntil(() => bodies.length === 3, "three deliveries");
      assert.deepEqual(bodies, ["first", "second", { text: "prepared" }]);
      assert.equal(ids[2], prepared.id);
    } finally {
      await driver.stop();
    }
  });

  test("a prepared unique publish reserves its key at once and enters only when admitted, behind earlier publishers", async () => {
    const { driver } = makeDriver(1);
    await driver.start();
    try {
      await driver.declare("q");
      await driver.publish("q", "first", {});
      const prepared = driver.prepareUniquePublish("q", "keyed", {}, { uniqueKey: "report:7" });
      assert.equal(prepared.duplicate, false);
      assert.match(prepared.id, /^[0-9a-f-]{36}$/);
      assert.equal((await driver.stats("q")).ready, 1, "not in the queue before admit()");
      // Taken from now on, by a plain unique publish or another prepared one, as after the commit.
      assert.deepEqual(await driver.publishUnique("q", "same key", {}, { uniqueKey: "report:7" }), { id: prepared.id, duplicate: true });
      const again = driver.prepareUniquePublish("q", "same key, prepared", {}, { uniqueKey: "report:7" });
      assert.deepEqual({ id: again.id, duplicate: again.duplicate }, { id: prepared.id, duplicate: true });
      await again.admit(); // a duplicate admits nothing
      const admission = prepared.admit();
      const bodies: unknown[] = [];
      await driver.consume("q", { prefetch: 10 }, (delivery) => {
        bodies.push(delivery.message.body);
        void delivery.ack();
      });
      await admission;
      await waitUntil(() => bodies.length === 2, "two deliveries");
      assert.deepEqual(bodies, ["first", "keyed"]);
      assert.deepEqual(await driver.stats("q"), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
    } finally {
      await driver.stop();
    }
  });

  test("discarding a prepared unique publish (its transaction rolled back) frees the key and admits nothing", async () => {
    const { driver } = makeDriver(10);
    await driver.start();
    try {
      await driver.declare("q");
      const prepared = driver.prepareUniquePublish("q", "rolled back", {}, { uniqueKey: "k", uniqueForMs: 60_000 });
      prepared.discard();
      const after = await driver.publishUnique("q", "after the rollback", {}, { uniqueKey: "k" });
      assert.equal(after.duplicate, false);
      assert.notEqual(after.id, prepared.id);
      const browsed = await driver.browse("q", { state: "waiting", order: "oldest", limit: 10, offset: 0 });
      assert.deepEqual(browsed.messages.map((message) => message.body), ["after the rollback"]);
      // A late discard of the old reservation leaves the new holder's key alone.
      prepared.discard();
      assert.deepEqual(await driver.publishUnique("q", "again", {}, { uniqueKey: "k" }), { id: after.id, duplicate: true });
    } finally {
      await driver.stop();
    }
  });

  test("a prepared unique publish refuses a bad key as publishUnique does", async () => {
    const { driver } = makeDriver(10);
    await driver.start();
    try {
      await driver.declare("q");
      assert.throws(() => driver.prepareUniquePublish("q", "x", {}, { uniqueKey: "" }), {
        code: "E_QUEUE_OPTIONS",
        message: 'queue driver app:memory: unique_key for queue "q" must be a non-empty string of at most 512 characters, found 0 characters',
      });
      assert.deepEqual(await driver.stats("q"), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
    } finally {
      await driver.stop();
    }
  });

  test("a committed message that finds no room for publish_timeout enters over max_length instead of being lost", async () => {
    const { logger, lines } = captureLogger();
    const driver = createMemoryQueueDriver({ id: "app:memory", maxLength: 1, publishTimeoutMs: 40, logger });
    await driver.start();
    try {
      await driver.declare("q");
      await driver.publish("q", "first", {});
      await driver.preparePublish("q", "committed", {}).admit();
      await driver.preparePublish("q", "committed too", {}).admit();
      assert.deepEqual(await driver.stats("q"), { ready: 3, inFlight: 0, delayed: 0, dead: 0 });
      const warnings = lines.filter((line) => line.level === "warn" && line.msg.includes("entered over max_length"));
      assert.equal(warnings.length, 1, "said once per queue");
      assert.equal(warnings[0].msg, "queue 'q' stayed full for 40ms: a message whose transaction committed entered over max_length");
    } finally {
      await driver.stop();
    }
  });

  test("admitting a prepared publish after the driver stopped fails with E_QUEUE_STOPPED", async () => {
    const { driver } = makeDriver(1);
    await driver.start();
    await driver.declare("q");
    const prepared = driver.preparePublish("q", "late", {});
    await driver.stop();
    await assert.rejects(prepared.admit(), { code: "E_QUEUE_STOPPED", message: "queue driver app:memory is stopped: queue 'q' is unavailable" });
  });

  test("delayed messages count towards max_length", async () => {
    const { driver } = makeDriver(1);
    await driver.start();
    try {
      await driver.declare("q");
      await driver.publish("q", "later", {}, { delayMs: 60_000 });
      let done = false;
      void driver.publish("q", "now", {}).then(() => (done = true), () => (done = true));
      await sleep(30);
      assert.equal(done, false);
    } finally {
      await driver.stop();
    }
  });

  test("a delay longer than a Node.js timer holds (30 days) stays delayed instead of firing at once", async () => {
    const { driver } = makeDriver();
    await driver.start();
    try {
      await driver.declare("q");
      await driver.publish("q", "next month", {}, { delayMs: 30 * 24 * 3_600_000 });
      await sleep(30);
      assert.deepEqual(await driver.stats("q"), { ready: 0, inFlight: 0, delayed: 1, dead: 0 });
    } finally {
      await driver.stop();
    }
  });

  test("waiting publishers are admitted in the order they arrived", async () => {
    const { driver } = makeDriver(1);
    await driver.start();
    try {
      await driver.declare("q");
      await driver.publish("q", 0, {});
      const waiting = [1, 2, 3].map((value) => driver.publish("q", value, {}));
      const bodies: unknown[] = [];
      await driver.consume("q", { prefetch: 1 }, (delivery) => {
        bodies.push(delivery.message.body);
        void delivery.ack();
      });
      await Promise.all(waiting);
      await waitUntil(() => bodies.length === 4, "4 deliveries");
      assert.deepEqual(bodies, [0, 1, 2, 3]);
    } finally {
      await driver.stop();
    }
  });

  test("a retry re-enters a full queue instead of being dropped", async () => {
    const { driver } = makeDriver(1);
    await driver.start();
    try {
      await driver.declare("q");
      await driver.publish("q", "first", {});
      const deliveries: Delivery[] = [];
      const subscription = await driver.consume("q", { prefetch: 1 }, (delivery) => deliveries.push(delivery));
      await waitUntil(() => deliveries.length === 1, "first delivery");
      await subscription.cancel();
      await driver.publish("q", "second", {});
      await deliveries[0].retry(0, "failed");
      assert.deepEqual(await driver.stats("q"), { ready: 2, inFlight: 0, delayed: 0, dead: 0 });
    } finally {
      await driver.stop();
    }
  });

  test("stop rejects publishers waiting for room, and later publishes", async () => {
    const { driver, lines } = makeDriver(1);
    await driver.start();
    await driver.declare("q");
    await driver.publish("q", 1, {});
    const waiting = driver.publish("q", 2, {});
    await sleep(5);
    await driver.stop();
    await assert.rejects(waiting, {
      code: "E_QUEUE_STOPPED",
      message: "queue driver app:memory is stopped: queue 'q' is unavailable",
    });
    await assert.rejects(driver.publish("q", 3, {}), { code: "E_QUEUE_STOPPED" });
    assert.ok(lines.some((line) => line.level === "warn" && line.msg === "stopped with 1 message not yet processed; they are lost"));
  });

  test("a queue's driver_options.memory.max_length overrides the driver's bound", async () => {
    const { driver } = makeDriver(1);
    await driver.start();
    try {
      await driver.declare("q", { max_length: 3 });
      for (let index = 0; index < 3; index++) await driver.publish("q", index, {});
      assert.equal((await driver.stats("q")).ready, 3);
    } finally {
      await driver.stop();
    }
  });

  test("an invalid driver_options.memory.max_length is refused with the field named", async () => {
    const { driver } = makeDriver();
    await assert.rejects(driver.declare("q", { max_length: 0 }), {
      code: "E_QUEUE_OPTIONS",
      message: "queue 'q': driver_options.memory.max_length must be a positive integer, got 0",
    });
  });

  test("publishing to an undeclared queue names the queue and the driver", async () => {
    const { driver } = makeDriver();
    await assert.rejects(driver.publish("nope", 1, {}), {
      code: "E_QUEUE_NOT_DECLARED",
      message: "queue 'nope' is not declared on driver app:memory",
    });
    await assert.rejects(driver.stats("nope"), { code: "E_QUEUE_NOT_DECLARED" });
  });

  test("a prefetch below 1 is refused", async () => {
    const { driver } = makeDriver();
    await driver.declare("q");
    await assert.rejects(driver.consume("q", { prefetch: 0 }, () => {}), {
      code: "E_QUEUE_PREFETCH",
      message: "prefetch must be a positive integer, got 0",
    });
  });

  test("a body that cannot be copied is refused", async () => {
    const { driver } = makeDriver();
    await driver.declare("q");
    await assert.rejects(driver.publish("q", { callback: () => 1 }, {}), (error: Error & { code?: string }) => {
      assert.equal(error.code, "E_INVALID_MESSAGE");
      assert.match(error.message, /^message body cannot be copied: /);
      return true;
    });
  });

  test("the publisher changing its object after publish does not change the message", async () => {
    const { driver } = makeDriver();
    await driver.start();
    try {
      await driver.declare("q");
      const body = { count: 1 };
      await driver.publish("q", body, {});
      body.count = 2;
      const bodies: unknown[] = [];
      await driver.consume("q", { prefetch: 1 }, (delivery) => bodies.push(delivery.message.body));
      await waitUntil(() => bodies.length === 1, "delivery");
      assert.deepEqual(bodies, [{ count: 1 }]);
    } finally {
      await driver.stop();
    }
  });

  test("a publisher's own timestamp header is kept", async () => {
    const { driver } = makeDriver();
    await driver.start();
    try {
      await driver.declare("q");
      await driver.publish("q", 1, { timestamp: 42 });
      const headers: unknown[] = [];
      await driver.consume("q", { prefetch: 1 }, (delivery) => headers.push(delivery.message.headers));
      await waitUntil(() => headers.length === 1, "delivery");
      assert.deepEqual(headers, [{ timestamp: 42 }]);
    } finally {
      await driver.stop();
    }
  });

  test("buried messages are kept with their error, at most DEAD_MESSAGES_KEPT of them", async () => {
    const { driver } = makeDriver(DEAD_MESSAGES_KEPT + 10);
    await driver.start();
    try {
      await driver.declare("q");
      for (let index = 0; index < DEAD_MESSAGES_KEPT + 5; index++) await driver.publish("q", { index }, {});
      await driver.consume("q", { prefetch: 100 }, (delivery) => void delivery.bury(`bad ${(delivery.message.body as { index: number }).index}`));
      await waitUntil(() => driver.deadMessages("q").length === DEAD_MESSAGES_KEPT && driver.deadMessages("q")[0].error === "bad 5", "dead list");
      const dead = driver.deadMessages("q");
      assert.deepEqual(dead[0].body, { index: 5 });
      assert.equal(dead[0].attempts, 1);
      assert.equal(dead.at(-1)!.error, `bad ${DEAD_MESSAGES_KEPT + 4}`);
      assert.equal((await driver.stats("q")).dead, DEAD_MESSAGES_KEPT);
    } finally {
      await driver.stop();
    }
  });

  test("a retried dead message re-enters a full queue at once, with its priority", async () => {
    const { driver } = makeDriver(2);
    await driver.start();
    try {
      await driver.declare("q");
      const id = await driver.publish("q", "urgent", {}, { priority: 9 });
      const deliveries: Delivery[] = [];
      const subscription = await driver.consume("q", { prefetch: 1 }, (delivery) => deliveries.push(delivery));
      await waitUntil(() => deliveries.length === 1, "delivery");
      await subscription.cancel();
      await deliveries[0].bury("broken");
      await driver.publish("q", "first", {});
      await driver.publish("q", "second", {});
      assert.equal(await driver.retryDead("q", id), true);
      assert.deepEqual(await driver.stats("q"), { ready: 3, inFlight: 0, delayed: 0, dead: 0 });
      const bodies: unknown[] = [];
      await driver.consume("q", { prefetch: 5 }, (delivery) => {
        bodies.push(delivery.message.body);
        void delivery.ack();
      });
      await waitUntil(() => bodies.length === 3, "three deliveries");
      assert.deepEqual(bodies, ["urgent", "first", "second"]);
    } finally {
      await driver.stop();
    }
  });

  test("dead letters of a queue that was never declared are refused as its other operations are", async () => {
    const { driver } = makeDriver();
    await driver.start();
    try {
      const refusal = { code: "E_QUEUE_NOT_DECLARED", message: "queue 'nope' is not declared on driver app:memory" };
      await assert.rejects(driver.listDead("nope", { limit: 1, offset: 0 }), refusal);
      await assert.rejects(driver.retryDead("nope", "m-1"), refusal);
      await assert.rejects(driver.discardDead("nope", "m-1"), refusal);
    } finally {
      await driver.stop();
    }
  });

  test("a consumer callback that throws is logged and does not stop other deliveries", async () => {
    const { driver, lines } = makeDriver();
    await driver.start();
    try {
      await driver.declare("q");
      await driver.publish("q", 1, {});
      await driver.publish("q", 2, {});
      const seen: unknown[] = [];
      await driver.consume("q", { prefetch: 5 }, (delivery) => {
        seen.push(delivery.message.body);
        if (delivery.message.body === 1) throw new Error("callback bug");
      });
      await waitUntil(() => seen.length === 2, "two deliveries");
      const line = lines.find((record) => record.level === "error");
      assert.equal(line?.msg, "consumer of queue 'q' threw on delivery: callback bug");
    } finally {
      await driver.stop();
    }
  });

  test("a delivery settled after the driver stopped resolves without effect", async () => {
    const { driver } = makeDriver();
    await driver.start();
    await driver.declare("q");
    await driver.publish("q", 1, {});
    const deliveries: Delivery[] = [];
    await driver.consume("q", { prefetch: 1 }, (delivery) => deliveries.push(delivery));
    await waitUntil(() => deliveries.length === 1, "delivery");
    await driver.stop();
    await driver.start();
    await deliveries[0].retry(0, "late");
    assert.deepEqual(await driver.stats("q"), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
    await driver.stop();
  });

  test("describe says it is not durable and counts queues and ready messages", async () => {
    const { driver } = makeDriver();
    await driver.declare("a");
    await driver.declare("b");
    await driver.publish("a", 1, {});
    assert.equal(driver.describe(), "in memory, not durable: 2 queues, 1 ready");
  });
});
