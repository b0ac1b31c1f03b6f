/**
 * @module drivers/queue/contract — the behaviour every queue driver must show, as a node:test
 * suite a driver's own test file runs: `queueDriverContract("sqlite", () => makeSqliteDriver())`.
 * `makeDriver` returns a fresh, unstarted driver (its own empty storage); the suite starts and
 * stops it. Waits for positive outcomes poll up to 5s; "nothing more arrives" checks give a
 * misbehaving driver 60ms to show itself.
 */
import { describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { hasCapability, isDeadLetterStore, type DeadLetterStore, type CapabilityMethods, type Delivery, type QueueCapability, type QueueDriver } from "./driver.ts";

export interface QueueDriverContractOptions {
  /** The driver keeps messages across stop/start (and so across process restarts). */
  durable?: boolean;
}

const DELIVERY_WAIT_MS = 5000;
const QUIET_MS = 60;

export function queueDriverContract(
  name: string,
  makeDriver: () => Promise<QueueDriver>,
  options: QueueDriverContractOptions = {},
): void {
  let counter = 0;
  const queueName = (): string => `contract_${++counter}`;

  /** A started driver with one declared queue, stopped afterwards whatever happens. */
  async function withQueue(run: (driver: QueueDriver, queue: string) => Promise<void>): Promise<void> {
    const driver = await makeDriver();
    await driver.start();
    try {
      const queue = queueName();
      await driver.declare(queue);
      await run(driver, queue);
    } finally {
      await driver.stop();
    }
  }

  describe(`queue driver contract: ${name}`, () => {
    test("a published message arrives with its id, body and headers, a timestamp header and attempts 1", async () => {
      await withQueue(async (driver, queue) => {
        const before = Math.floor(Date.now() / 1000);
        const id = await driver.publish(queue, { text: "hello", numbers: [1, 2, 3], nested: { ok: true } }, {
          correlation_id: "c-1",
          count: 3,
          flag: false,
        });
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 1 }, collector.onDelivery);
        const [delivery] = await collector.waitFor(1);
        assert.equal(delivery.message.id, id);
        assert.deepEqual(delivery.message.body, { text: "hello", numbers: [1, 2, 3], nested: { ok: true } });
        assert.equal(delivery.message.headers.correlation_id, "c-1");
        assert.equal(delivery.message.headers.count, 3);
        assert.equal(delivery.message.headers.flag, false);
        const timestamp = delivery.message.headers.timestamp;
        assert.equal(typeof timestamp, "number");
        assert.ok((timestamp as number) >= before && (timestamp as number) <= Math.floor(Date.now() / 1000));
        assert.equal(delivery.message.attempts, 1);
        await delivery.ack();
      });
    });

    test("a string body arrives unchanged", async () => {
      await withQueue(async (driver, queue) => {
        await driver.publish(queue, "plain text", {});
        const collector = new Collector({ autoAck: true });
        await driver.consume(queue, { prefetch: 1 }, collector.onDelivery);
        const [delivery] = await collector.waitFor(1);
        assert.equal(delivery.message.body, "plain text");
      });
    });

    test("messages are delivered in the order they were published", async () => {
      await withQueue(async (driver, queue) => {
        const published: string[] = [];
        for (let index = 0; index < 20; index++) published.push(await driver.publish(queue, { index }, {}));
        const collector = new Collector({ autoAck: true });
        await driver.consume(queue, { prefetch: 4 }, collector.onDelivery);
        const deliveries = await collector.waitFor(20);
        assert.deepEqual(deliveries.map((delivery) => delivery.message.id), published);
      });
    });

    test("a consumer never holds more than prefetch unsettled deliveries", async () => {
      await withQueue(async (driver, queue) => {
        for (let index = 0; index < 10; index++) await driver.publish(queue, { index }, {});
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 3 }, collector.onDelivery);
        await collector.waitFor(3);
        await sleep(QUIET_MS);
        assert.equal(collector.deliveries.length, 3);
        assert.deepEqual(await driver.stats(queue), { ready: 7, inFlight: 3, delayed: 0, dead: 0 });
        await collector.deliveries[0].ack();
        await collector.waitFor(4);
        await sleep(QUIET_MS);
        assert.equal(collector.deliveries.length, 4);
      });
    });

    test("an acked message is gone and never delivered again", async () => {
      await withQueue(async (driver, queue) => {
        await driver.publish(queue, { job: 1 }, {});
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 5 }, collector.onDelivery);
        const [delivery] = await collector.waitFor(1);
        await delivery.ack();
        assert.deepEqual(await driver.stats(queue), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
        await sleep(QUIET_MS);
        assert.equal(collector.deliveries.length, 1);
      });
    });

    test("retry(delay) delivers the message again after the delay, attempts + 1, the error in x_last_error", async () => {
      await withQueue(async (driver, queue) => {
        const id = await driver.publish(queue, { job: "flaky" }, { source: "contract" });
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 1 }, collector.onDelivery);
        const [first] = await collector.waitFor(1);
        assert.equal(first.message.headers.x_last_error, undefined);
        const retriedAt = performance.now();
        await first.retry(100, "boom");
        assert.deepEqual(await driver.stats(queue), { ready: 0, inFlight: 0, delayed: 1, dead: 0 });
        const second = (await collector.waitFor(2))[1];
        assert.ok(performance.now() - retriedAt >= 95, "redelivered before its delay");
        assert.equal(second.message.id, id);
        assert.deepEqual(second.message.body, { job: "flaky" });
        assert.equal(second.message.attempts, 2);
        assert.equal(second.message.headers.x_last_error, "boom");
        assert.equal(second.message.headers.source, "contract");
        await second.retry(0, "boom again");
        const third = (await collector.waitFor(3))[2];
        assert.equal(third.message.attempts, 3);
        assert.equal(third.message.headers.x_last_error, "boom again");
        await third.ack();
      });
    });

    test("a handler mutating its delivered body does not change what a retry delivers", async () => {
      await withQueue(async (driver, queue) => {
        await driver.publish(queue, { items: [1] }, {});
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 1 }, collector.onDelivery);
        const [first] = await collector.waitFor(1);
        (first.message.body as { items: number[] }).items.push(2);
        await first.retry(0, "mutated");
        const second = (await collector.waitFor(2))[1];
        assert.deepEqual(second.message.body, { items: [1] });
        await second.ack();
      });
    });

    test("a buried message stays dead and is not delivered again", async () => {
      await withQueue(async (driver, queue) => {
        await driver.publish(queue, { job: "poison" }, {});
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 1 }, collector.onDelivery);
        const [delivery] = await collector.waitFor(1);
        await delivery.bury("fatal: cannot parse");
        assert.deepEqual(await driver.stats(queue), { ready: 0, inFlight: 0, delayed: 0, dead: 1 });
        await sleep(QUIET_MS);
        assert.equal(collector.deliveries.length, 1);
      });
    });

    test("release() returns the message without counting an attempt", async () => {
      await withQueue(async (driver, queue) => {
        const id = await driver.publish(queue, { job: 1 }, {});
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 1 }, collector.onDelivery);
        const [first] = await collector.waitFor(1);
        await first.release();
        const second = (await collector.waitFor(2))[1];
        assert.equal(second.message.id, id);
        assert.equal(second.message.attempts, 1);
        assert.equal(second.message.headers.x_last_error, undefined);
        await second.retry(0, "failed once");
        const third = (await collector.waitFor(3))[2];
        assert.equal(third.message.attempts, 2);
        await third.release();
        const fourth = (await collector.waitFor(4))[3];
        assert.equal(fourth.message.attempts, 2);
        await fourth.ack();
      });
    });

    test("a message published with delayMs is held until the delay has passed", async () => {
      await withQueue(async (driver, queue) => {
        const publishedAt = performance.now();
        await driver.publish(queue, "late", {}, { delayMs: 150 });
        await driver.publish(queue, "early", {});
        const stats = await driver.stats(queue);
        // Counted as delayed only while the delay lasts: a saturated machine can outlast 150 ms here.
        if (performance.now() - publishedAt < 150) assert.deepEqual(stats, { ready: 1, inFlight: 0, delayed: 1, dead: 0 });
        const collector = new Collector({ autoAck: true });
        await driver.consume(queue, { prefetch: 5 }, collector.onDelivery);
        const [first] = await collector.waitFor(1);
        assert.equal(first.message.body, "early");
        const second = (await collector.waitFor(2))[1];
        assert.equal(second.message.body, "late");
        assert.ok(performance.now() - publishedAt >= 145, "delivered before its delay");
      });
    });

    test("higher priority messages are delivered first, in publish order within a priority", async () => {
      await withQueue(async (driver, queue) => {
        await driver.publish(queue, "a", {}, { priority: 0 });
        await driver.publish(queue, "b", {}, { priority: 5 });
        await driver.publish(queue, "c", {}, { priority: 1 });
        await driver.publish(queue, "d", {}, { priority: 5 });
        await driver.publish(queue, "e", {});
        const collector = new Collector({ autoAck: true });
        await driver.consume(queue, { prefetch: 1 }, collector.onDelivery);
        const deliveries = await collector.waitFor(5);
        assert.deepEqual(deliveries.map((delivery) => delivery.message.body), ["b", "d", "c", "a", "e"]);
      });
    });

    test("stats count ready, in-flight, delayed and dead messages", async () => {
      await withQueue(async (driver, queue) => {
        for (let index = 0; index < 4; index++) await driver.publish(queue, { index }, {});
        await driver.publish(queue, { later: true }, {}, { delayMs: 60_000 });
        assert.deepEqual(await driver.stats(queue), { ready: 4, inFlight: 0, delayed: 1, dead: 0 });
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 2 }, collector.onDelivery);
        await collector.waitFor(2);
        assert.deepEqual(await driver.stats(queue), { ready: 2, inFlight: 2, delayed: 1, dead: 0 });
        await collector.deliveries[0].bury("dead");
        await collector.waitFor(3);
        assert.deepEqual(await driver.stats(queue), { ready: 1, inFlight: 2, delayed: 1, dead: 1 });
      });
    });

    test("cancel() stops deliveries, and deliveries already handed out can still be settled", async () => {
      await withQueue(async (driver, queue) => {
        await driver.publish(queue, 1, {});
        const collector = new Collector();
        const subscription = await driver.consume(queue, { prefetch: 10 }, collector.onDelivery);
        const [first] = await collector.waitFor(1);
        await subscription.cancel();
        await driver.publish(queue, 2, {});
        await driver.publish(queue, 3, {});
        await sleep(QUIET_MS);
        assert.equal(collector.deliveries.length, 1);
        await first.ack();
        assert.deepEqual(await driver.stats(queue), { ready: 2, inFlight: 0, delayed: 0, dead: 0 });
        const next = new Collector({ autoAck: true });
        await driver.consume(queue, { prefetch: 10 }, next.onDelivery);
        assert.deepEqual((await next.waitFor(2)).map((delivery) => delivery.message.body), [2, 3]);
      });
    });

    test("two consumers on one queue receive each message exactly once", async () => {
      await withQueue(async (driver, queue) => {
        const published = new Set<string>();
        for (let index = 0; index < 40; index++) published.add(await driver.publish(queue, { index }, {}));
        const one = new Collector({ autoAck: true });
        const two = new Collector({ autoAck: true });
        await driver.consume(queue, { prefetch: 3 }, one.onDelivery);
        await driver.consume(queue, { prefetch: 3 }, two.onDelivery);
        await waitUntil(() => one.deliveries.length + two.deliveries.length >= 40, () => "40 deliveries across both consumers");
        await sleep(QUIET_MS);
        const received = [...one.deliveries, ...two.deliveries].map((delivery) => delivery.message.id);
        assert.equal(received.length, 40);
        assert.deepEqual(new Set(received), published);
      });
    });

    test("settling a delivery a second time is rejected", async () => {
      await withQueue(async (driver, queue) => {
        await driver.publish(queue, 1, {});
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 1 }, collector.onDelivery);
        const [delivery] = await collector.waitFor(1);
        await delivery.ack();
        await assert.rejects(delivery.ack());
        await assert.rejects(delivery.retry(0, "again"));
      });
    });

    test("a restarted driver still serves the queues declared before", async () => {
      await withQueue(async (driver, queue) => {
        await driver.stop();
        await driver.start();
        await driver.publish(queue, "after restart", {});
        const collector = new Collector({ autoAck: true });
        await driver.consume(queue, { prefetch: 1 }, collector.onDelivery);
        assert.equal((await collector.waitFor(1))[0].message.body, "after restart");
      });
    });

    /** As withQueue, for a driver that keeps a dead-letter store; the test is skipped for one that does not. */
    async function withDeadLetters(t: TestContext, run: (driver: QueueDriver & DeadLetterStore, queue: string) => Promise<void>): Promise<void> {
      await withQueue(async (driver, queue) => {
        if (!isDeadLetterStore(driver)) {
          t.skip(`${driver.id} keeps no dead-letter store`);
          return;
        }
        await run(driver, queue);
      });
    }

    test("dead letters: listed newest first with body, headers, attempts, error and when they died; paged", async (t) => {
      await withDeadLetters(t, async (driver, queue) => {
        const first = await driver.publish(queue, { job: "a" }, { source: "contract" });
        const second = await driver.publish(queue, { job: "b" }, { source: "contract" });
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 2 }, collector.onDelivery);
        const [firstDelivery, secondDelivery] = await collector.waitFor(2);
        assert.deepEqual([firstDelivery.message.id, secondDelivery.message.id], [first, second]);
        await firstDelivery.retry(0, "transient");
        const firstAgain = (await collector.waitFor(3))[2];
        assert.equal(firstAgain.message.id, first);
        const before = Date.now();
        await secondDelivery.bury("fatal b");
        await sleep(5);
        await firstAgain.bury("fatal a");
        const after = Date.now();

        const page = await driver.listDead(queue, { limit: 10, offset: 0 });
        assert.equal(page.total, 2);
        assert.deepEqual(page.messages.map((message) => message.id), [first, second]);
        const [a, b] = page.messages;
        assert.deepEqual(a.body, { job: "a" });
        assert.equal(a.headers.source, "contract");
        assert.equal(typeof a.headers.timestamp, "number");
        assert.equal(a.attempts, 2);
        assert.equal(a.error, "fatal a");
        assert.deepEqual(b.body, { job: "b" });
        assert.equal(b.attempts, 1);
        assert.equal(b.error, "fatal b");
        for (const message of page.messages) {
          assert.ok(message.diedAt instanceof Date);
          assert.ok(message.diedAt.getTime() >= before && message.diedAt.getTime() <= after, `died at ${message.diedAt.toISOString()}`);
        }
        assert.ok(a.diedAt.getTime() >= b.diedAt.getTime());

        const ids = async (limit: number, offset: number) => {
          const { messages, total } = await driver.listDead(queue, { limit, offset });
          return { ids: messages.map((message) => message.id), total };
        };
        assert.deepEqual(await ids(1, 0), { ids: [first], total: 2 });
        assert.deepEqual(await ids(1, 1), { ids: [second], total: 2 });
        assert.deepEqual(await ids(5, 2), { ids: [], total: 2 });
      });
    });

    test("dead letters: retryDead delivers the message again with attempts 1, its body and headers, and the last error", async (t) => {
      await withDeadLetters(t, async (driver, queue) => {
        const id = await driver.publish(queue, { job: "revive" }, { source: "contract" });
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 1 }, collector.onDelivery);
        const [first] = await collector.waitFor(1);
        await first.retry(0, "transient");
        const second = (await collector.waitFor(2))[1];
        await second.bury("broken");
        assert.equal((await driver.stats(queue)).dead, 1);

        assert.equal(await driver.retryDead(queue, id), true);
        const revived = (await collector.waitFor(3))[2];
        assert.equal(revived.message.id, id);
        assert.equal(revived.message.attempts, 1);
        assert.deepEqual(revived.message.body, { job: "revive" });
        assert.equal(revived.message.headers.source, "contract");
        assert.equal(revived.message.headers.x_last_error, "broken");
        assert.deepEqual(await driver.listDead(queue, { limit: 10, offset: 0 }), { messages: [], total: 0 });
        assert.deepEqual(await driver.stats(queue), { ready: 0, inFlight: 1, delayed: 0, dead: 0 });
        assert.equal(await driver.retryDead(queue, id), false, "no longer dead");
        await revived.ack();
      });
    });

    test("dead letters: discardDead removes a dead message for good", async (t) => {
      await withDeadLetters(t, async (driver, queue) => {
        const kept = await driver.publish(queue, "kept", {});
        const dropped = await driver.publish(queue, "dropped", {});
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 2 }, collector.onDelivery);
        for (const delivery of await collector.waitFor(2)) await delivery.bury("dead");
        assert.equal((await driver.stats(queue)).dead, 2);

        assert.equal(await driver.discardDead(queue, dropped), true);
        const page = await driver.listDead(queue, { limit: 10, offset: 0 });
        assert.deepEqual({ ids: page.messages.map((message) => message.id), total: page.total }, { ids: [kept], total: 1 });
        assert.deepEqual(await driver.stats(queue), { ready: 0, inFlight: 0, delayed: 0, dead: 1 });
        assert.equal(await driver.discardDead(queue, dropped), false, "already gone");
        assert.equal(await driver.retryDead(queue, dropped), false, "already gone");
        await sleep(QUIET_MS);
        assert.equal(collector.deliveries.length, 2);
      });
    });

    test("dead letters: an unknown id, or one of a message that is not dead, is neither retried nor discarded", async (t) => {
      await withDeadLetters(t, async (driver, queue) => {
        const ready = await driver.publish(queue, "still ready", {});
        for (const id of ["no-such-message", ready]) {
          assert.equal(await driver.retryDead(queue, id), false, id);
          assert.equal(await driver.discardDead(queue, id), false, id);
        }
        assert.deepEqual(await driver.stats(queue), { ready: 1, inFlight: 0, delayed: 0, dead: 0 });
        const collector = new Collector({ autoAck: true });
        await driver.consume(queue, { prefetch: 1 }, collector.onDelivery);
        const [delivery] = await collector.waitFor(1);
        assert.equal(delivery.message.id, ready);
        assert.equal(delivery.message.attempts, 1);
      });
    });

    /** As withQueue, for a driver with the capability; the test is skipped (saying why) for one without. */
    async function withCapability<C extends QueueCapability>(
      t: TestContext,
      capability: C,
      run: (driver: QueueDriver & CapabilityMethods[C], queue: string) => Promise<void>,
    ): Promise<void> {
      await withQueue(async (driver, queue) => {
        if (!hasCapability(driver, capability)) {
          t.skip(`${driver.id} does not offer "${capability}": ${driver.unsupported?.[capability] ?? "no reason given"}`);
          return;
        }
        await run(driver as never, queue);
      });
    }

    test("pause: a paused queue takes publishes but hands out nothing until resumed, in publish order", async (t) => {
      await withCapability(t, "pause", async (driver, queue) => {
        assert.equal(await driver.isPaused(queue), false);
        await driver.pause(queue);
        assert.equal(await driver.isPaused(queue), true);
        const first = await driver.publish(queue, 1, {});
        const second = await driver.publish(queue, 2, {});
        const collector = new Collector({ autoAck: true });
        await driver.consume(queue, { prefetch: 5 }, collector.onDelivery);
        await sleep(QUIET_MS);
        assert.equal(collector.deliveries.length, 0, "delivered while paused");
        assert.deepEqual(await driver.stats(queue), { ready: 2, inFlight: 0, delayed: 0, dead: 0 });
        await driver.resume(queue);
        assert.equal(await driver.isPaused(queue), false);
        assert.deepEqual((await collector.waitFor(2)).map((delivery) => delivery.message.id), [first, second]);
      });
    });

    test("pause: pausing a busy queue stops new deliveries; those handed out before still settle", async (t) => {
      await withCapability(t, "pause", async (driver, queue) => {
        await driver.publish(queue, "before", {});
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 5 }, collector.onDelivery);
        const [before] = await collector.waitFor(1);
        await driver.pause(queue);
        await driver.publish(queue, "during", {});
        await before.ack();
        await sleep(QUIET_MS);
        assert.equal(collector.deliveries.length, 1, "delivered while paused");
        await driver.resume(queue);
        assert.equal((await collector.waitFor(2))[1].message.body, "during");
        await collector.deliveries[1].ack();
      });
    });

    test("pause: pausing one queue leaves the others running", async (t) => {
      await withCapability(t, "pause", async (driver, queue) => {
        const other = queueName();
        await driver.declare(other);
        await driver.pause(queue);
        await driver.publish(queue, "held", {});
        await driver.publish(other, "flows", {});
        const held = new Collector({ autoAck: true });
        const flowing = new Collector({ autoAck: true });
        await driver.consume(queue, { prefetch: 1 }, held.onDelivery);
        await driver.consume(other, { prefetch: 1 }, flowing.onDelivery);
        assert.equal((await flowing.waitFor(1))[0].message.body, "flows");
        assert.equal(held.deliveries.length, 0);
        assert.equal(await driver.isPaused(other), false);
      });
    });

    test("unique: a second publish with a key while its first message waits is dropped, naming the first; once taken, the key is free", async (t) => {
      await withCapability(t, "unique", async (driver, queue) => {
        const first = await driver.publishUnique(queue, "first", {}, { uniqueKey: "report:42" });
        assert.equal(first.duplicate, false);
        assert.deepEqual(await driver.publishUnique(queue, "second", {}, { uniqueKey: "report:42" }), { id: first.id, duplicate: true });
        const other = await driver.publishUnique(queue, "other key", {}, { uniqueKey: "report:43" });
        assert.equal(other.duplicate, false);
        assert.notEqual(other.id, first.id);
        const plain = await driver.publish(queue, "no key", {});
        assert.deepEqual(await driver.stats(queue), { ready: 3, inFlight: 0, delayed: 0, dead: 0 });
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 1 }, collector.onDelivery);
        const [taken] = await collector.waitFor(1);
        assert.equal(taken.message.id, first.id);
        assert.equal(taken.message.body, "first");
        // In flight, the key no longer holds: a new publish is accepted (pg-boss's "singleton" policy).
        const again = await driver.publishUnique(queue, "while in flight", {}, { uniqueKey: "report:42" });
        assert.equal(again.duplicate, false);
        assert.notEqual(again.id, first.id);
        await taken.ack();
        const bodies = (await collector.waitFor(2)).map((delivery) => delivery.message.body);
        assert.deepEqual(bodies, ["first", "other key"]);
        await collector.deliveries[1].ack();
        assert.deepEqual((await collector.waitFor(3))[2].message.id, plain);
      });
    });

    test("unique: a delayed message holds its key; a window holds it after the message is done, and frees it once passed", async (t) => {
      await withCapability(t, "unique", async (driver, queue) => {
        const delayed = await driver.publishUnique(queue, "later", {}, { uniqueKey: "nightly", delayMs: 60_000 });
        assert.deepEqual(await driver.publishUnique(queue, "later again", {}, { uniqueKey: "nightly" }), { id: delayed.id, duplicate: true });
        assert.deepEqual(await driver.stats(queue), { ready: 0, inFlight: 0, delayed: 1, dead: 0 });

        const windowed = await driver.publishUnique(queue, "windowed", {}, { uniqueKey: "w", uniqueForMs: 60_000 });
        const shortWindow = await driver.publishUnique(queue, "short", {}, { uniqueKey: "s", uniqueForMs: 1 });
        const collector = new Collector({ autoAck: true });
        await driver.consume(queue, { prefetch: 5 }, collector.onDelivery);
        await collector.waitFor(2);
        await waitUntil(async () => (await driver.stats(queue)).inFlight === 0, () => "both acked");
        assert.deepEqual(await driver.publishUnique(queue, "windowed again", {}, { uniqueKey: "w" }), { id: windowed.id, duplicate: true });
        // The 1 ms window passes: the key is free again (asked until it is, since no clock is mocked).
        let next = await driver.publishUnique(queue, "short again", {}, { uniqueKey: "s", uniqueForMs: 1 });
        while (next.duplicate) {
          assert.equal(next.id, shortWindow.id);
          await sleep(2);
          next = await driver.publishUnique(queue, "short again", {}, { uniqueKey: "s", uniqueForMs: 1 });
        }
        assert.notEqual(next.id, shortWindow.id);
      });
    });

    test("unique: a missing, empty or oversized key is refused, saying what a key must be", async (t) => {
      await withCapability(t, "unique", async (driver, queue) => {
        for (const [key, found] of [["", "0 characters"], ["k".repeat(513), "513 characters"], [undefined, "undefined"]] as const) {
          await assert.rejects(driver.publishUnique(queue, "x", {}, { uniqueKey: key as string }), {
            code: "E_QUEUE_OPTIONS",
            message: `queue driver ${driver.id}: unique_key for queue "${queue}" must be a non-empty string of at most 512 characters, found ${found}`,
          });
        }
        assert.deepEqual(await driver.stats(queue), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
      });
    });

    test("progress: a handler's reports are listed with the messages in flight, oldest delivery first; a new delivery starts without", async (t) => {
      await withCapability(t, "progress", async (driver, queue) => {
        const before = Date.now();
        const first = await driver.publish(queue, { job: 1 }, { source: "contract" });
        const second = await driver.publish(queue, { job: 2 }, {});
        await driver.publish(queue, { job: 3 }, {});
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 2 }, collector.onDelivery);
        const [one, two] = await collector.waitFor(2);
        await one.progress!(40);
        await two.progress!({ done: 3, total: 10 });
        await one.progress!(55);
        const page = await driver.listInFlight(queue, { limit: 10, offset: 0 });
        assert.equal(page.total, 2);
        assert.deepEqual(page.messages.map((message) => [message.id, message.progress, message.attempts]), [[first, 55], [second, { done: 3, total: 10 }]].map(([id, progress]) => [id, progress, 1]));
        const [listed] = page.messages;
        assert.deepEqual(listed.body, { job: 1 });
        assert.equal(listed.headers.source, "contract");
        assert.ok(listed.publishedAt instanceof Date && listed.publishedAt.getTime() >= before - 1000, "publishedAt");
        assert.deepEqual((await driver.listInFlight(queue, { limit: 1, offset: 1 })).messages.map((message) => message.id), [second]);

        await two.retry(0, "try again");
        await one.ack();
        await assert.rejects(one.progress!(60), { code: "E_ALREADY_SETTLED" });
        const again = (await collector.waitFor(4)).filter((delivery) => delivery.message.id === second)[1];
        assert.equal(again.message.attempts, 2);
        await waitUntil(async () => (await driver.listInFlight(queue, { limit: 10, offset: 0 })).messages.some((message) => message.id === second), () => "the retried message in flight");
        const retried = (await driver.listInFlight(queue, { limit: 10, offset: 0 })).messages.find((message) => message.id === second)!;
        assert.equal(retried.progress, undefined, "a new delivery starts without progress");
        assert.equal(retried.attempts, 2);
        assert.equal(retried.lastError, "try again");
      });
    });

    test("progress: anything but a finite number or a JSON object is refused, saying what progress may be", async (t) => {
      await withCapability(t, "progress", async (driver, queue) => {
        await driver.publish(queue, 1, {});
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 1 }, collector.onDelivery);
        const [delivery] = await collector.waitFor(1);
        for (const [value, found] of [["half", "string"], [Number.NaN, "NaN"], [null, "null"], [{ blob: "x".repeat(17_000) }, "17011 bytes"]] as const) {
          await assert.rejects(delivery.progress!(value), {
            code: "E_INVALID_PROGRESS",
            message: `progress must be a finite number or a JSON object of at most 16384 bytes, found ${found}`,
          });
        }
        assert.equal((await driver.listInFlight(queue, { limit: 1, offset: 0 })).messages[0].progress, undefined);
        await delivery.ack();
      });
    });

    test("purge drops every waiting and delayed message; in-flight and dead ones stay, and a purged key is free", async (t) => {
      await withCapability(t, "purge", async (driver, queue) => {
        await driver.publish(queue, "in flight", {});
        await driver.publish(queue, "dead", {});
        const collector = new Collector();
        const subscription = await driver.consume(queue, { prefetch: 2 }, collector.onDelivery);
        const [inFlight, dead] = await collector.waitFor(2);
        await subscription.cancel();
        await dead.bury("dead");
        const unique = hasCapability(driver, "unique");
        if (unique) await driver.publishUnique(queue, "keyed", {}, { uniqueKey: "k" });
        else await driver.publish(queue, "keyed", {});
        await driver.publish(queue, "later", {}, { delayMs: 60_000 });
        await driver.publish(queue, "ready", {});
        assert.deepEqual(await driver.stats(queue), { ready: 2, inFlight: 1, delayed: 1, dead: 1 });
        assert.equal(await driver.purge(queue), 3);
        assert.deepEqual(await driver.stats(queue), { ready: 0, inFlight: 1, delayed: 0, dead: 1 });
        if (unique) assert.equal((await driver.publishUnique(queue, "keyed again", {}, { uniqueKey: "k" })).duplicate, false);
        await inFlight.ack();
        assert.equal(await driver.purge(queue), 1);
      });
    });

    /** Buries `count` messages one after another (each dies after the one before), returning their ids in order of death. */
    async function buryMessages(driver: QueueDriver, queue: string, count: number): Promise<string[]> {
      const ids: string[] = [];
      for (let index = 0; index < count; index++) ids.push(await driver.publish(queue, { index }, {}));
      const collector = new Collector();
      const subscription = await driver.consume(queue, { prefetch: count }, collector.onDelivery);
      const deliveries = await collector.waitFor(count);
      await subscription.cancel();
      for (const delivery of deliveries) {
        await delivery.bury(`dead ${String(delivery.message.id)}`);
        await sleep(2); // distinct death times, so "the newest" is well defined
      }
      return deliveries.map((delivery) => delivery.message.id);
    }

    test("retention: pruneDead keeps only the newest max_count dead messages and drops those older than max_age", async (t) => {
      await withCapability(t, "retention", async (driver, queue) => {
        const ids = await buryMessages(driver, queue, 5);
        assert.equal(await driver.pruneDead(queue, { maxCount: 2, maxAgeMs: 600_000 }), 3);
        const kept = await driver.listDead(queue, { limit: 10, offset: 0 });
        assert.deepEqual(kept.messages.map((message) => message.id), [ids[4], ids[3]]);
        assert.equal(await driver.pruneDead(queue, { maxCount: 2 }), 0);
        await sleep(5);
        assert.equal(await driver.pruneDead(queue, { maxAgeMs: 1 }), 2);
        assert.deepEqual(await driver.stats(queue), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
      });
    });

    test("retention: only dead messages are pruned, and only the queue's own", async (t) => {
      await withCapability(t, "retention", async (driver, queue) => {
        const other = queueName();
        await driver.declare(other);
        await buryMessages(driver, other, 1);
        await buryMessages(driver, queue, 1);
        await driver.publish(queue, "waiting", {});
        await driver.publish(queue, "delayed", {}, { delayMs: 60_000 });
        await sleep(5);
        assert.equal(await driver.pruneDead(queue, { maxAgeMs: 1, maxCount: 0 }), 1);
        assert.deepEqual(await driver.stats(queue), { ready: 1, inFlight: 0, delayed: 1, dead: 0 });
        assert.equal((await driver.stats(other)).dead, 1);
      });
    });

    if (options.durable) {
      test("retention: a queue's retention is applied in the background when the driver starts", async (t) => {
        await withCapability(t, "retention", async (driver, queue) => {
          const ids = await buryMessages(driver, queue, 3);
          driver.retain(queue, { maxCount: 1 });
          await driver.stop();
          await driver.start();
          assert.deepEqual((await driver.listDead(queue, { limit: 10, offset: 0 })).messages.map((message) => message.id), [ids[2]]);
        });
      });
    }

    // A window this long (about 31 years) does not end during a test: the counts are exact.
    const LONG_WINDOW_MS = 1e12;

    test("rate: consumers sharing a key share one budget per window; another key has its own", async (t) => {
      await withCapability(t, "rate", async (driver, queue) => {
        for (let index = 0; index < 6; index++) await driver.publish(queue, { index }, {});
        const shared = { limit: 2, perMs: LONG_WINDOW_MS, key: `${queue}:shared` };
        const one = new Collector({ autoAck: true });
        const two = new Collector({ autoAck: true });
        await driver.consume(queue, { prefetch: 10, rates: [shared] }, one.onDelivery);
        await driver.consume(queue, { prefetch: 10, rates: [shared] }, two.onDelivery);
        await waitUntil(() => one.deliveries.length + two.deliveries.length === 2, () => "2 deliveries under the shared rate");
        await sleep(QUIET_MS);
        assert.equal(one.deliveries.length + two.deliveries.length, 2, "more than the shared budget");
        const other = new Collector({ autoAck: true });
        await driver.consume(queue, { prefetch: 10, rates: [{ limit: 3, perMs: LONG_WINDOW_MS, key: `${queue}:other` }] }, other.onDelivery);
        await other.waitFor(3);
        await sleep(QUIET_MS);
        assert.equal(other.deliveries.length, 3);
        await waitUntil(async () => (await driver.stats(queue)).inFlight === 0, () => "acks");
        assert.deepEqual(await driver.stats(queue), { ready: 1, inFlight: 0, delayed: 0, dead: 0 });
      });
    });

    test("rate: messages held by a rate flow once its window ends", async (t) => {
      await withCapability(t, "rate", async (driver, queue) => {
        for (let index = 0; index < 3; index++) await driver.publish(queue, { index }, {});
        const collector = new Collector({ autoAck: true });
        await driver.consume(queue, { prefetch: 10, rates: [{ limit: 1, perMs: 50, key: `${queue}:fast` }] }, collector.onDelivery);
        assert.deepEqual((await collector.waitFor(3)).map((delivery) => delivery.message.body), [{ index: 0 }, { index: 1 }, { index: 2 }]);
      });
    });

    test("rate: a limit below 1 or a window below 1 ms is refused", async (t) => {
      await withCapability(t, "rate", async (driver, queue) => {
        await assert.rejects(driver.consume(queue, { prefetch: 1, rates: [{ limit: 0, perMs: 1000, key: "k" }] }, () => undefined), {
          code: "E_QUEUE_OPTIONS",
          message: `queue driver ${driver.id}: a rate for queue "${queue}" needs a whole limit of at least 1 per at least 1 ms, found 0 per 1000 ms`,
        });
      });
    });

    test("browse: waiting and delayed messages are listed by publish order, newest or oldest first, paged", async (t) => {
      await withCapability(t, "browse", async (driver, queue) => {
        const a = await driver.publish(queue, "a", { source: "contract" });
        const b = await driver.publish(queue, "b", {}, { priority: 5 });
        const c = await driver.publish(queue, "c", {});
        const later = await driver.publish(queue, "later", {}, { delayMs: 60_000 });
        const latest = await driver.publish(queue, "latest", {}, { delayMs: 120_000 });
        const ids = async (state: "waiting" | "delayed", order: "newest" | "oldest", limit = 10, offset = 0) => {
          const page = await driver.browse(queue, { state, order, limit, offset });
          return { ids: page.messages.map((message) => message.id), total: page.total };
        };
        assert.deepEqual(await ids("waiting", "oldest"), { ids: [a, b, c], total: 3 });
        assert.deepEqual(await ids("waiting", "newest"), { ids: [c, b, a], total: 3 });
        assert.deepEqual(await ids("waiting", "newest", 1, 1), { ids: [b], total: 3 });
        assert.deepEqual(await ids("delayed", "oldest"), { ids: [later, latest], total: 2 });
        const [first] = (await driver.browse(queue, { state: "waiting", order: "oldest", limit: 1, offset: 0 })).messages;
        assert.equal(first.body, "a");
        assert.equal(first.headers.source, "contract");
        assert.equal(first.attempts, 0);
        const [delayed] = (await driver.browse(queue, { state: "delayed", order: "oldest", limit: 1, offset: 0 })).messages;
        assert.ok(delayed.availableAt && delayed.availableAt.getTime() > Date.now() + 30_000, "a delayed message says when it becomes deliverable");
        assert.equal((await driver.browse(queue, { state: "waiting", order: "oldest", limit: 1, offset: 0 })).messages[0].priority, 0);
      });
    });

    test("browse: promote runs a waiting or delayed message next; remove deletes one; neither touches a message in flight", async (t) => {
      await withCapability(t, "browse", async (driver, queue) => {
        const first = await driver.publish(queue, "first", {});
        const second = await driver.publish(queue, "second", {});
        const delayed = await driver.publish(queue, "delayed", {}, { delayMs: 60_000 });
        const doomed = await driver.publish(queue, "doomed", {});
        assert.equal(await driver.remove(queue, doomed), true);
        assert.equal(await driver.remove(queue, doomed), false, "already gone");
        assert.equal(await driver.promote(queue, delayed), true);
        assert.equal(await driver.promote(queue, second), true);
        assert.equal(await driver.promote(queue, "no-such-message"), false);
        assert.deepEqual(await driver.stats(queue), { ready: 3, inFlight: 0, delayed: 0, dead: 0 });
        const collector = new Collector();
        await driver.consume(queue, { prefetch: 1 }, collector.onDelivery);
        const [next] = await collector.waitFor(1);
        assert.equal(next.message.id, second, "the last promoted runs first");
        assert.equal(await driver.promote(queue, second), false, "in flight");
        assert.equal(await driver.remove(queue, second), false, "in flight");
        await next.ack();
        const rest = await collector.waitFor(2);
        assert.equal(rest[1].message.id, delayed);
        await rest[1].ack();
        assert.equal((await collector.waitFor(3))[2].message.id, first);
        await collector.deliveries[2].ack();
      });
    });

    if (options.durable) {
      test("pause: a paused queue stays paused across a stop and start", async (t) => {
        await withCapability(t, "pause", async (driver, queue) => {
          await driver.pause(queue);
          await driver.publish(queue, "held", {});
          await driver.stop();
          await driver.start();
          assert.equal(await driver.isPaused(queue), true);
          const collector = new Collector({ autoAck: true });
          await driver.consume(queue, { prefetch: 1 }, collector.onDelivery);
          await sleep(QUIET_MS);
          assert.equal(collector.deliveries.length, 0);
          await driver.resume(queue);
          assert.equal((await collector.waitFor(1))[0].message.body, "held");
        });
      });
    }

    if (options.durable) {
      test("reports itself durable", async () => {
        assert.equal((await makeDriver()).durable, true);
      });

      test("ready and delayed messages survive a stop and start", async () => {
        await withQueue(async (driver, queue) => {
          await driver.publish(queue, "ready", {});
          await driver.publish(queue, "delayed", {}, { delayMs: 200 });
          await driver.stop();
          await driver.start();
          const collector = new Collector({ autoAck: true });
          await driver.consume(queue, { prefetch: 5 }, collector.onDelivery);
          const deliveries = await collector.waitFor(2);
          assert.deepEqual(deliveries.map((delivery) => delivery.message.body), ["ready", "delayed"]);
        });
      });

      test("a message left unsettled when the driver stops is delivered again after it starts", async () => {
        await withQueue(async (driver, queue) => {
          const id = await driver.publish(queue, "in flight", {});
          const collector = new Collector();
          await driver.consume(queue, { prefetch: 1 }, collector.onDelivery);
          await collector.waitFor(1);
          await driver.stop();
          await driver.start();
          const again = new Collector({ autoAck: true });
          await driver.consume(queue, { prefetch: 1 }, again.onDelivery);
          assert.equal((await again.waitFor(1))[0].message.id, id);
        });
      });
    } else {
      test("reports itself not durable", async () => {
        assert.equal((await makeDriver()).durable, false);
      });
    }
  });
}

/** Records deliveries in arrival order; optionally acks each at once. */
class Collector {
  readonly deliveries: Delivery[] = [];
  readonly settleErrors: unknown[] = [];

  constructor(private readonly options: { autoAck?: boolean } = {}) {}

  readonly onDelivery = (delivery: Delivery): void => {
    this.deliveries.push(delivery);
    if (this.options.autoAck) delivery.ack().catch((error: unknown) => this.settleErrors.push(error));
  };

  async waitFor(count: number): Promise<Delivery[]> {
    await waitUntil(() => this.deliveries.length >= count, () => `${count} deliveries (got ${this.deliveries.length})`);
    assert.deepEqual(this.settleErrors, []);
    return this.deliveries;
  }
}

async function waitUntil(condition: () => boolean | Promise<boolean>, what: () => string): Promise<void> {
  const deadline = Date.now() + DELIVERY_WAIT_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${DELIVERY_WAIT_MS}ms waiting for ${what()}`);
    await sleep(2);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
