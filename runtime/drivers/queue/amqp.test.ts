import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { queueDriverContract } from "./contract.ts";
import { captureLogger } from "../../../test/support/logs.ts";
import { buildContext, registryFrom } from "../../../test/support/registry.ts";
import { createQueueEntry } from "../../kinds/queue-queue.ts";
import { redactPassword, resolveAmqpEndpoint } from "./amqp-endpoint.ts";
import { delayQueueArguments, delayQueueName, roundDelay } from "./amqp-delay.ts";
import { copyProperties, decodeMessage } from "./amqp-message.ts";
import type { ConsumeMessage } from "amqplib";
import type { Delivery } from "./driver.ts";
import {
  RABBITMQ_HOST,
  RABBITMQ_PORT,
  RABBITMQ_URL,
  TestDrivers,
  closeConnectionOnBroker,
  provokeBrokerClose,
  rabbitmqctlAvailable,
  waitUntil,
  withRawChannel,
} from "./amqp-test-support.ts";
import { serviceSkip } from "../../../test/support/services.ts";

const skip = await serviceSkip("rabbitmq", RABBITMQ_HOST, RABBITMQ_PORT);
const ctlSkip = skip || ((await rabbitmqctlAvailable()) ? false : "rabbitmqctl cannot reach the local node; it is needed to close a connection from the broker's side");
const drivers = new TestDrivers();
const prefix = drivers.prefix;
after(() => drivers.cleanUp());

/** A started driver with declared queues, stopped afterwards whatever happens. */
async function withDriver(queues: string[], run: (driver: ReturnType<TestDrivers["make"]>) => Promise<void>, overrides: Parameters<TestDrivers["make"]>[0] = {}): Promise<void> {
  const driver = drivers.make(overrides);
  await driver.start();
  try {
    for (const queue of queues) await driver.declare(queue);
    await run(driver);
  } finally {
    await driver.stop();
  }
}

function collect(): { deliveries: Delivery[]; onDelivery: (delivery: Delivery) => void } {
  const deliveries: Delivery[] = [];
  return { deliveries, onDelivery: (delivery) => deliveries.push(delivery) };
}

async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function rawMessage(content: string, properties: Record<string, unknown>): ConsumeMessage {
  return {
    content: Buffer.from(content),
    fields: { deliveryTag: 1, redelivered: true, exchange: "", routingKey: "q", consumerTag: "c" },
    properties: properties as unknown as ConsumeMessage["properties"],
  };
}

describe("amqp driver parts", () => {
  test("delays are rounded up to 16 steps per doubling: never early, at most 6.25% late", () => {
    assert.deepEqual([0.2, 1, 16, 17, 100, 150, 1000, 30_000, 60_000].map(roundDelay), [1, 1, 16, 17, 100, 152, 1024, 30_720, 61_440]);
    for (let delay = 1; delay < 400_000; delay = Math.ceil(delay * 1.07)) {
      const rounded = roundDelay(delay);
      assert.ok(rounded >= delay && rounded <= delay * 1.0625, `${delay} → ${rounded}`);
    }
  });

  test("a delay queue is a quorum queue whose TTL dead-letters at least once into its queue, and expires a minute after it can be empty", () => {
    assert.equal(delayQueueName("tasks", 1024), "tasks.delay.1024");
    assert.deepEqual(delayQueueArguments("tasks", 1024), {
      "x-queue-type": "quorum",
      "x-message-ttl": 1024,
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": "tasks",
      "x-dead-letter-strategy": "at-least-once",
      "x-overflow": "reject-publish",
      "x-expires": 61_024,
    });
  });

  test("a delivery shows the publisher's headers and the attempt from x-attempts, not the broker's dead-letter bookkeeping", () => {
    const message = decodeMessage(
      rawMessage('{"a":1}', {
        messageId: "m-1",
        contentType: "application/json",
        headers: { source: "s", "x-attempts": 3, x_last_error: "boom", "x-death": [{ count: 1 }], "x-first-death-queue": "q.delay.100", "x-first-death-reason": "expired", "x-first-death-exchange": "" },
      }),
    );
    assert.deepEqual(message, { id: "m-1", body: { a: 1 }, headers: { source: "s", x_last_error: "boom" }, attempts: 3 });
    assert.equal(decodeMessage(rawMessage("1", { messageId: "m-2" })).attempts, 1);
  });

  test("a copy keeps the id, content type, priority and the publisher's headers, drops the bookkeeping and adds the new headers", () => {
    const properties = copyProperties(
      rawMessage("{}", { messageId: "m-1", contentType: "application/json", priority: 4, headers: { source: "s", "x-attempts": 2, "x-death": [{ count: 1 }] } }),
      { "x-attempts": 3, x_last_error: "again" },
    );
    assert.deepEqual(properties, {
      messageId: "m-1",
      contentType: "application/json",
      priority: 4,
      headers: { source: "s", "x-attempts": 3, x_last_error: "again" },
      persistent: true,
      mandatory: true,
    });
  });

  test("endpoints: amqp defaults to port 5672 and vhost /, an IPv6 host keeps its brackets, a vhost field wins over the path", () => {
    const plain = resolveAmqpEndpoint("app:amqp", { url: "amqp://localhost" });
    assert.deepEqual(
      { protocol: plain.protocol, port: plain.port, username: plain.username, password: plain.password, vhost: plain.vhost, address: plain.address, maskedUrl: plain.maskedUrl },
      { protocol: "amqp", port: 5672, username: "guest", password: "guest", vhost: "/", address: "localhost:5672/", maskedUrl: "amqp://guest:***@localhost:5672/" },
    );
    const ipv6 = resolveAmqpEndpoint("app:amqp", { url: "amqps://svc:pw@[::1]/%2Fjobs" });
    assert.equal(ipv6.hostname, "::1");
    assert.equal(ipv6.vhost, "/jobs");
    assert.equal(ipv6.address, "[::1]:5671/%2Fjobs");
    assert.equal(ipv6.maskedUrl, "amqps://svc:***@[::1]:5671/%2Fjobs");
    assert.equal(resolveAmqpEndpoint("app:amqp", { url: "amqp://h/path", vhost: "other" }).vhost, "other");
  });

  test("a password is removed from any text coming back from the broker or the network", () => {
    assert.equal(redactPassword("login s3cret failed for s3cret", { password: "s3cret" }), "login *** failed for ***");
    assert.equal(redactPassword("nothing to hide", { password: "" }), "nothing to hide");
  });
});

describe("amqp driver against the local RabbitMQ", { skip }, () => {
  queueDriverContract("amqp", async () => drivers.make(), { durable: true });

  test("through queue.queue entries: a failing message is retried after its backoff with attempts counted, then dead-lettered", async () => {
    const driver = drivers.make();
    const registry = await registryFrom(
      `
      - name: amqp
        kind: queue.driver.amqp
      - name: jobs
        kind: queue.queue
        driver: test:amqp
        max_attempts: 3
        backoff: { initial: 50ms, factor: 2, jitter: 0 }
        dead_letter: test:failed
      - name: failed
        kind: queue.queue
        driver: test:amqp
      `,
      { namespace: "test" },
    );
    const entries = registry.entries;
    const components = new Map<string, unknown>([["test:amqp", driver]]);
    const context = buildContext(registry, components, captureLogger().logger);
    const jobs = createQueueEntry(entries[1], context);
    const failed = createQueueEntry(entries[2], context);
    components.set("test:jobs", jobs);
    components.set("test:failed", failed);
    await driver.start();
    try {
      const id = await jobs.publish({ job: "always fails" }, { source: "test" });
      const attempts: number[] = [];
      await jobs.consume({ prefetch: 1 }, (delivery) => {
        attempts.push(delivery.message.attempts);
        void jobs.fail(delivery, `boom ${delivery.message.attempts}`);
      });
      const dead = collect();
      await failed.consume({ prefetch: 1 }, dead.onDelivery);
      await waitUntil(() => dead.deliveries.length >= 1, "the dead letter");
      assert.deepEqual(attempts, [1, 2, 3]);
      const letter = dead.deliveries[0].message;
      assert.deepEqual(letter.body, { job: "always fails" });
      assert.equal(letter.headers.source, "test");
      assert.equal(letter.headers.x_dead_reason, "boom 3");
      assert.equal(letter.headers.x_attempts, 3);
      assert.equal(letter.headers.x_original_queue, "test:jobs");
      assert.equal(letter.headers.x_last_error, "boom 2");
      assert.notEqual(letter.id, id);
      await dead.deliveries[0].ack();
      assert.deepEqual(await jobs.stats(), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
    } finally {
      await driver.stop();
    }
  });

  test("publish resolves once the broker holds the message: persistent, JSON, in a durable queue", async () => {
    await withDriver(["stored"], async (driver) => {
      const id = await driver.publish("stored", { task: 1 }, { source: "test" }, { priority: 3 });
      await withRawChannel(async (channel) => {
        assert.equal((await channel.checkQueue(`${prefix}stored`)).messageCount, 1);
        const message = await channel.get(`${prefix}stored`, { noAck: true });
        assert.ok(message);
        assert.equal(message.properties.deliveryMode, 2);
        assert.equal(message.properties.messageId, id);
        assert.equal(message.properties.contentType, "application/json");
        assert.equal(message.properties.priority, 3);
        assert.equal(message.properties.headers?.source, "test");
        assert.equal(message.content.toString(), '{"task":1}');
      });
      await withRawChannel(async (channel) => {
        await assert.rejects(channel.assertQueue(`${prefix}stored`, { durable: false, arguments: { "x-max-priority": 10 } }), /inequivalent arg 'durable'/);
      });
    });
  });

  test("a short delay is not held up behind a longer one published before it", async () => {
    await withDriver(["delays"], async (driver) => {
      await driver.publish("delays", "slow", {}, { delayMs: 1500 });
      await driver.publish("delays", "fast", {}, { delayMs: 100 });
      const { deliveries, onDelivery } = collect();
      await driver.consume("delays", { prefetch: 5 }, onDelivery);
      await waitUntil(() => deliveries.length >= 1, "the first delayed message");
      assert.equal(deliveries[0].message.body, "fast");
      await waitUntil(() => deliveries.length >= 2, "the second delayed message");
      assert.equal(deliveries[1].message.body, "slow");
    });
  });

  test("a retried message waits in its delay queue as a persistent copy carrying x-attempts and x_last_error", async () => {
    await withDriver(["waiting"], async (driver) => {
      const id = await driver.publish("waiting", { job: 1 }, { source: "test" });
      const { deliveries, onDelivery } = collect();
      await driver.consume("waiting", { prefetch: 1 }, onDelivery);
      await waitUntil(() => deliveries.length >= 1, "the delivery");
      await deliveries[0].retry(60_000, "try later");
      await withRawChannel(async (channel) => {
        const message = await channel.get(delayQueueName(`${prefix}waiting`, roundDelay(60_000)), { noAck: false });
        assert.ok(message);
        assert.equal(message.properties.messageId, id);
        assert.equal(message.properties.deliveryMode, 2);
        assert.equal(message.properties.headers?.["x-attempts"], 2);
        assert.equal(message.properties.headers?.x_last_error, "try later");
        assert.equal(message.properties.headers?.source, "test");
        assert.equal(message.content.toString(), '{"job":1}');
      });
    });
  });

  test("a buried message lands in <queue>.dead with the error, attempts and original queue in its headers", async () => {
    await withDriver(["poison"], async (driver) => {
      const id = await driver.publish("poison", { bad: true }, { source: "test" });
      const { deliveries, onDelivery } = collect();
      await driver.consume("poison", { prefetch: 1 }, onDelivery);
      await waitUntil(() => deliveries.length >= 1, "the first delivery");
      await deliveries[0].retry(0, "first failure");
      await waitUntil(() => deliveries.length >= 2, "the second delivery");
      await deliveries[1].bury("cannot parse");
      await withRawChannel(async (channel) => {
        const message = await channel.get(`${prefix}poison.dead`, { noAck: true });
        assert.ok(message);
        assert.equal(message.properties.messageId, id);
        assert.equal(message.properties.deliveryMode, 2);
        const headers = message.properties.headers ?? {};
        assert.equal(headers.x_last_error, "cannot parse");
        assert.equal(headers.x_attempts, 2);
        assert.equal(headers.x_original_queue, "poison");
        assert.equal(typeof headers.x_failed_at, "number");
        assert.equal(headers.source, "test");
        assert.equal(message.content.toString(), '{"bad":true}');
      });
    });
  });

  test("priorities above 10 count as 10 and below 0 as 0", async () => {
    await withDriver(["ranks"], async (driver) => {
      await driver.publish("ranks", "low", {}, { priority: -5 });
      await driver.publish("ranks", "ten", {}, { priority: 10 });
      await driver.publish("ranks", "huge", {}, { priority: 99 });
      await driver.publish("ranks", "mid", {}, { priority: 4 });
      const { deliveries, onDelivery } = collect();
      await driver.consume("ranks", { prefetch: 1 }, (delivery) => {
        onDelivery(delivery);
        void delivery.ack();
      });
      await waitUntil(() => deliveries.length >= 4, "four deliveries");
      assert.deepEqual(deliveries.map((delivery) => delivery.message.body), ["ten", "huge", "mid", "low"]);
    });
  });

  test("with max_priority 0 queues are declared without priorities and deliver in publish order", async () => {
    await withDriver(
      ["flat"],
      async (driver) => {
        await driver.publish("flat", "first", {}, { priority: 0 });
        await driver.publish("flat", "second", {}, { priority: 9 });
        const { deliveries, onDelivery } = collect();
        await driver.consume("flat", { prefetch: 1 }, (delivery) => {
          onDelivery(delivery);
          void delivery.ack();
        });
        await waitUntil(() => deliveries.length >= 2, "two deliveries");
        assert.deepEqual(deliveries.map((delivery) => delivery.message.body), ["first", "second"]);
        await withRawChannel(async (channel) => {
          await assert.rejects(channel.assertQueue(`${prefix}flat`, { durable: true, arguments: { "x-max-priority": 10 } }), /inequivalent arg 'x-max-priority'/);
        });
      },
      { maxPriority: 0 },
    );
  });

  test("a message from another client without a content type arrives as JSON when it parses, else as text", async () => {
    await withDriver(["foreign"], async (driver) => {
      await withRawChannel(async (channel) => {
        channel.sendToQueue(`${prefix}foreign`, Buffer.from('{"n":1}'));
        channel.sendToQueue(`${prefix}foreign`, Buffer.from("not json"));
        channel.sendToQueue(`${prefix}foreign`, Buffer.from('{"n":2}'), { contentType: "text/plain" });
        await channel.checkQueue(`${prefix}foreign`);
      });
      const { deliveries, onDelivery } = collect();
      await driver.consume("foreign", { prefetch: 5 }, onDelivery);
      await waitUntil(() => deliveries.length >= 3, "three deliveries");
      assert.deepEqual(deliveries.map((delivery) => delivery.message.body), [{ n: 1 }, "not json", '{"n":2}']);
      assert.deepEqual(deliveries.map((delivery) => delivery.message.attempts), [1, 1, 1]);
      for (const delivery of deliveries) await delivery.ack();
    });
  });

  test("prefetch_count caps a consumer's prefetch", async () => {
    await withDriver(
      ["capped"],
      async (driver) => {
        for (let index = 0; index < 5; index++) await driver.publish("capped", index, {});
        const { deliveries, onDelivery } = collect();
        await driver.consume("capped", { prefetch: 50 }, onDelivery);
        await waitUntil(() => deliveries.length >= 2, "two deliveries");
        await new Promise((resolve) => setTimeout(resolve, 60));
        assert.equal(deliveries.length, 2);
        assert.equal((await driver.stats("capped")).inFlight, 2);
      },
      { prefetchCap: 2 },
    );
  });

  test("driver_options.amqp.max_length makes publishes beyond it fail instead of dropping messages", async () => {
    const driver = drivers.make();
    await driver.start();
    try {
      await driver.declare("bounded", { max_length: 2 });
      await driver.publish("bounded", 1, {});
      await driver.publish("bounded", 2, {});
      await assert.rejects(driver.publish("bounded", 3, {}), (error: Error & { code?: string; hint?: string }) => {
        assert.equal(error.code, "E_QUEUE_REJECTED");
        assert.match(error.message, /^queue broker test:amqp did not accept message [0-9a-f-]{36} for queue "bounded" \(negative confirm\)$/);
        assert.equal(error.hint, "the queue may be at its max_length, or the broker short of disk or memory (see its log)");
        return true;
      });
      assert.equal((await driver.stats("bounded")).ready, 2);
    } finally {
      await driver.stop();
    }
  });

  test("driver_options.amqp refuses keys it does not support and a max_length that is not a positive whole number", async () => {
    await withDriver([], async (driver) => {
      await assert.rejects(driver.declare("options", { durable: false }), {
        code: "E_QUEUE_OPTIONS",
        message: 'queue "options": driver_options.amqp.durable is not supported by test:amqp',
        hint: "driver_options.amqp takes max_length; queues are always durable, and expiry would lose tasks",
      });
      await assert.rejects(driver.declare("options", { max_length: 0 }), {
        code: "E_QUEUE_OPTIONS",
        message: 'queue "options": driver_options.amqp.max_length must be a positive whole number, found 0',
      });
    });
  });

  test("declaring a queue that exists on the broker with other arguments names the conflict and the fix", async () => {
    await withRawChannel(async (channel) => {
      await channel.assertQueue(`${prefix}legacy`, { durable: true });
    });
    try {
      await withDriver([], async (driver) => {
        await assert.rejects(driver.declare("legacy"), {
          code: "E_QUEUE_CONFLICT",
          message: `queue driver test:amqp cannot declare queue "legacy": it exists on the broker with other settings (inequivalent arg 'x-max-priority' for queue '${prefix}legacy' in vhost '/': received the value '10' of type 'byte' but current is none)`,
          hint: `test:amqp declares durable queues with x-max-priority 10; delete the old queue (rabbitmqctl delete_queue ${prefix}legacy) or use another queue_name`,
        });
        // The failed declare cost the driver its admin channel, not its usefulness.
        await driver.declare("after_conflict");
        await driver.publish("after_conflict", 1, {});
      });
    } finally {
      await withRawChannel(async (channel) => {
        await channel.deleteQueue(`${prefix}legacy`);
      });
    }
  });

  test("publishing to a queue that does not exist on the broker fails instead of vanishing", async () => {
    await withDriver([], async (driver) => {
      await assert.rejects(driver.publish("nowhere", 1, {}), {
        code: "E_QUEUE_NOT_DECLARED",
        message: 'queue "nowhere" does not exist on queue broker test:amqp: the message was returned unroutable',
      });
    });
  });

  test("consuming from a queue that does not exist on the broker fails once, without retrying in the background", async () => {
    const { logger, lines } = captureLogger();
    await withDriver(
      [],
      async (driver) => {
        await assert.rejects(driver.consume("missing", { prefetch: 1 }, () => {}), {
          code: "E_QUEUE_NOT_DECLARED",
          message: `queue driver test:amqp cannot subscribe to queue "missing": the queue does not exist on the broker (no queue '${prefix}missing' in vhost '/')`,
          hint: "declare the queue first: a queue.queue entry does so on first use",
        });
        await new Promise((resolve) => setTimeout(resolve, 150));
        assert.deepEqual(lines.filter((line) => line.level !== "info").map((line) => line.msg), []);
      },
      { logger, reconnectDelayMs: 30 },
    );
  });

  test("a queue deleted on the broker under a consumer is declared again and the consumer resubscribes", async () => {
    const { logger, lines } = captureLogger();
    await withDriver(
      ["vanishing"],
      async (driver) => {
        const { deliveries, onDelivery } = collect();
        await driver.consume("vanishing", { prefetch: 1 }, (delivery) => {
          onDelivery(delivery);
          void delivery.ack();
        });
        await withRawChannel(async (channel) => {
          await channel.deleteQueue(`${prefix}vanishing`);
        });
        await waitUntil(() => lines.some((line) => line.msg === 'consumer of queue "vanishing" subscribed again'), "the resubscription");
        await driver.publish("vanishing", "back", {});
        await waitUntil(() => deliveries.length >= 1, "a delivery after the resubscription");
        assert.equal(deliveries[0].message.body, "back");
        assert.ok(lines.some((line) => line.level === "warn" && line.msg === 'queue "vanishing" was deleted on the broker; declaring it again and resubscribing'));
      },
      { logger },
    );
  });

  test("consume refuses a prefetch that is not a whole number of at least 1", async () => {
    await withDriver(["refused"], async (driver) => {
      await assert.rejects(driver.consume("refused", { prefetch: 0 }, () => {}), {
        code: "E_QUEUE_PREFETCH",
        message: 'queue driver test:amqp: prefetch for queue "refused" must be a whole number of at least 1, found 0',
      });
    });
  });

  test("publish refuses a fractional priority, a negative delay and a body without a JSON form", async () => {
    await withDriver(["checked"], async (driver) => {
      await assert.rejects(driver.publish("checked", 1, {}, { priority: 1.5 }), {
        code: "E_QUEUE_OPTIONS",
        message: 'queue driver test:amqp: priority for queue "checked" must be a whole number, found 1.5',
      });
      await assert.rejects(driver.publish("checked", 1, {}, { delayMs: -1 }), {
        code: "E_QUEUE_OPTIONS",
        message: 'queue driver test:amqp: delay for queue "checked" must be between 0 and 4294907295 milliseconds, found -1',
      });
      await assert.rejects(driver.publish("checked", () => 1, {}), {
        code: "E_INVALID_MESSAGE",
        message: 'queue driver test:amqp cannot encode the message body for queue "checked": a function has no JSON form',
      });
    });
  });

  test("before start and after stop, the driver refuses work and says why", async () => {
    const driver = drivers.make();
    await assert.rejects(driver.publish("idle", 1, {}), {
      code: "E_QUEUE_STOPPED",
      message: 'queue driver test:amqp cannot publish to queue "idle": it is not started',
      hint: "start test:amqp first: give it lifecycle.auto_start: true, or list it in lifecycle.requires of the entry that uses it",
    });
    await driver.start();
    await driver.declare("idle");
    await driver.publish("idle", 1, {});
    const { deliveries, onDelivery } = collect();
    await driver.consume("idle", { prefetch: 1 }, onDelivery);
    await waitUntil(() => deliveries.length >= 1, "the delivery");
    await driver.stop();
    await assert.rejects(deliveries[0].ack(), {
      code: "E_QUEUE_STOPPED",
      message: `queue driver test:amqp stopped after the delivery: ack of message ${deliveries[0].message.id} of queue "idle" is void, the message went back to the queue`,
    });
    await assert.rejects(driver.stats("idle"), { code: "E_QUEUE_STOPPED", message: 'queue driver test:amqp cannot read the stats of queue "idle": it is stopped' });
  });

  test("describe names the protocol, address and vhost, never the credentials", async () => {
    const driver = drivers.make();
    assert.equal(driver.describe(), "amqp 127.0.0.1:5672/ (durable)");
  });

  test("a wrong password fails the start at once, and neither the error nor the log shows it", async () => {
    const { logger, lines } = captureLogger();
    const secret = "wr0ng-s3cret-pw";
    const driver = drivers.make({ endpoint: resolveAmqpEndpoint("test:amqp", { url: `amqp://guest:${secret}@127.0.0.1:5672/` }), connectTimeoutMs: 30_000, logger });
    await assert.rejects(driver.start(), (error: Error & { code?: string; hint?: string; cause?: unknown }) => {
      assert.equal(error.code, "E_QUEUE_UNAVAILABLE");
      assert.equal(
        error.message,
        'queue broker test:amqp refused the login of user guest: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile."',
      );
      assert.equal(error.hint, "check the user and password in url (or the variable named by url_env)");
      assert.ok(!JSON.stringify({ message: error.message, hint: error.hint, stack: error.stack }).includes(secret));
      return true;
    });
    assert.ok(!JSON.stringify(lines).includes(secret));
  });

  test("a vhost the user cannot open fails the start with the vhost named", async () => {
    const driver = drivers.make({ endpoint: resolveAmqpEndpoint("test:amqp", { url: RABBITMQ_URL, vhost: `${prefix}missing` }) });
    await assert.rejects(driver.start(), {
      code: "E_QUEUE_UNAVAILABLE",
      message: `queue broker test:amqp refused access to vhost "${prefix}missing" for user guest`,
      hint: `create the vhost and grant the user access (rabbitmqctl add_vhost / set_permissions), or fix vhost in amqp://guest:***@127.0.0.1:5672/${prefix}missing`,
    });
  });

  test("a broker that is down at start fails the start after connection_timeout, with the address and masked url", async () => {
    const port = await unusedPort();
    const driver = drivers.make({ endpoint: resolveAmqpEndpoint("test:amqp", { url: `amqp://guest:guest@127.0.0.1:${port}/` }), connectTimeoutMs: 300, reconnectDelayMs: 50 });
    await assert.rejects(driver.start(), {
      code: "E_QUEUE_UNAVAILABLE",
      message: `queue broker test:amqp is unreachable: connect ECONNREFUSED 127.0.0.1:${port} (gave up after 300ms)`,
      hint: `check that the broker at amqp://guest:***@127.0.0.1:${port}/ is running and reachable from here; raise connection_timeout to wait longer at start`,
    });
  });

  test("a server that accepts but never speaks AMQP fails the start after connection_timeout", async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const driver = drivers.make({ endpoint: resolveAmqpEndpoint("test:amqp", { url: `amqp://127.0.0.1:${port}/` }), connectTimeoutMs: 200 });
      await assert.rejects(driver.start(), {
        code: "E_QUEUE_UNAVAILABLE",
        message: `queue broker test:amqp is unreachable: no AMQP handshake with 127.0.0.1:${port} within 200ms (gave up after 200ms)`,
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test("the log shows the url with the password masked", async () => {
    const { logger, lines } = captureLogger();
    await withDriver([], async () => {}, { logger });
    assert.ok(lines.some((line) => line.level === "info" && line.msg === "connected to amqp://guest:***@127.0.0.1:5672/"));
    assert.ok(!JSON.stringify(lines).includes("guest:guest"));
  });

  test("when the network drops the socket, the driver reconnects and a message published afterwards is delivered", async () => {
    const { logger, lines } = captureLogger();
    await withDriver(
      ["dropped"],
      async (driver) => {
        const { deliveries, onDelivery } = collect();
        await driver.consume("dropped", { prefetch: 5 }, onDelivery);
        const socket = (driver.currentConnection() as unknown as { connection: { stream: net.Socket } }).connection.stream;
        socket.destroy(new Error("simulated network failure"));
        await waitUntil(() => driver.describe().includes("reconnecting"), "the driver to notice");
        await assert.rejects(driver.publish("dropped", "during", {}), { code: "E_QUEUE_UNAVAILABLE", message: /^queue broker test:amqp is unreachable: / });
        await waitUntil(() => !driver.describe().includes("reconnecting"), "the reconnect");
        await driver.publish("dropped", "after", {});
        await waitUntil(() => deliveries.length >= 1, "the message published after the reconnect");
        assert.equal(deliveries[0].message.body, "after");
        await deliveries[0].ack();
        assert.ok(lines.some((line) => line.level === "warn" && /^connection to amqp:\/\/guest:\*\*\*@127\.0\.0\.1:5672\/ is down \(.+\); reconnect attempt 1 in \d+ms$/.test(line.msg)), JSON.stringify(lines));
      },
      { logger, reconnectDelayMs: 200 },
    );
  });

  test("stop does not hang on a connection whose socket died silently; it cuts it after connection_timeout", async () => {
    const driver = drivers.make({ connectTimeoutMs: 300 });
    await driver.start();
    await driver.declare("silent");
    const socket = (driver.currentConnection() as unknown as { connection: { stream: net.Socket } }).connection.stream;
    // A peer gone silent: nothing arrives and nothing leaves, so no close-ok will ever come.
    socket.pause();
    socket.write = () => true;
    const socketClosed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    await driver.stop();
    await socketClosed;
    assert.equal(socket.destroyed, true);
  });

  test("a message waiting in a delay queue while the broker has closed the connection is delivered after the reconnect", async () => {
    await withDriver(
      ["outage_delay"],
      async (driver) => {
        const { deliveries, onDelivery } = collect();
        await driver.consume("outage_delay", { prefetch: 5 }, onDelivery);
        await driver.publish("outage_delay", "later", {}, { delayMs: 3000 });
        // Not rabbitmqctl: on a busy machine it can take longer than the delay.
        provokeBrokerClose(driver);
        await waitUntil(() => driver.describe().includes("reconnecting"), "the driver to notice");
        assert.match(driver.describe(), /, reconnecting: Connection closed: 501 \(FRAME-ERROR\) /);
        assert.equal(deliveries.length, 0);
        const delayQueue = delayQueueName(`${prefix}outage_delay`, roundDelay(3000));
        assert.equal(await withRawChannel(async (channel) => (await channel.checkQueue(delayQueue)).messageCount), 1, "the message waits in its delay queue during the outage");
        await waitUntil(() => deliveries.length >= 1, "the delayed message");
        assert.equal(deliveries[0].message.body, "later");
        await deliveries[0].ack();
      },
      { reconnectDelayMs: 300 },
    );
  });

  describe("when the broker closes the connection", { skip: ctlSkip }, () => {
    test("publishes fail fast with E_QUEUE_UNAVAILABLE, then the driver reconnects, declares again, resumes its consumer and the unsettled message comes back", async () => {
      const { logger, lines } = captureLogger();
      const connectionName = drivers.connectionName();
      await withDriver(
        ["outage"],
        async (driver) => {
          const id = await driver.publish("outage", "before", {});
          const { deliveries, onDelivery } = collect();
          await driver.consume("outage", { prefetch: 5 }, onDelivery);
          await waitUntil(() => deliveries.length >= 1, "the first delivery");
          await closeConnectionOnBroker(connectionName, "taskrt test");
          await waitUntil(() => driver.describe() !== "amqp 127.0.0.1:5672/ (durable)", "the driver to notice");
          const reason = 'Connection closed: 320 (CONNECTION-FORCED) with message "CONNECTION_FORCED - taskrt test"';
          assert.equal(driver.describe(), `amqp 127.0.0.1:5672/ (durable), reconnecting: ${reason}`);
          await assert.rejects(driver.publish("outage", "during", {}), {
            code: "E_QUEUE_UNAVAILABLE",
            message: `queue broker test:amqp is unreachable: ${reason}`,
            hint: "the driver reconnects on its own with backoff; try again shortly",
          });
          await assert.rejects(deliveries[0].ack(), {
            code: "E_QUEUE_UNAVAILABLE",
            message: `queue broker test:amqp is unreachable: the connection was lost after the delivery: ack of message ${id} of queue "outage" is void, the broker delivers the message again`,
          });
          await waitUntil(() => deliveries.length >= 2, "the unsettled message delivered again");
          assert.equal(deliveries[1].message.id, id);
          assert.equal(deliveries[1].message.attempts, 1);
          await deliveries[1].ack();
          await driver.publish("outage", "after", {});
          await waitUntil(() => deliveries.length >= 3, "a message published after the outage");
          assert.equal(deliveries[2].message.body, "after");
          await deliveries[2].ack();
          assert.deepEqual(await driver.stats("outage"), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
          assert.ok(lines.some((line) => line.level === "error" && line.msg === `lost the connection to amqp://guest:***@127.0.0.1:5672/: ${reason}; publishes fail until it is back`));
          assert.ok(lines.some((line) => line.level === "info" && line.msg === "reconnected to amqp://guest:***@127.0.0.1:5672/ after 1 attempt"));
        },
        { logger, connectionName, reconnectDelayMs: 300 },
      );
    });

    test("a consumer whose queue vanished during the outage does not keep the driver offline, and subscribes once the queue is back", async () => {
      const { logger, lines } = captureLogger();
      const connectionName = drivers.connectionName();
      const external = `${prefix}external`;
      await withRawChannel(async (channel) => {
        await channel.assertQueue(external, { durable: true, arguments: { "x-max-priority": 10 } });
      });
      try {
        await withDriver(
          ["steady"],
          async (driver) => {
            const { deliveries, onDelivery } = collect();
            await driver.consume("external", { prefetch: 1 }, onDelivery);
            await closeConnectionOnBroker(connectionName, "taskrt test");
            await waitUntil(() => driver.describe().includes("reconnecting"), "the driver to notice");
            await withRawChannel(async (channel) => {
              await channel.deleteQueue(external);
            });
            await waitUntil(() => !driver.describe().includes("reconnecting"), "the reconnect");
            await driver.publish("steady", "still works", {});
            assert.ok(lines.some((line) => line.level === "error" && line.msg.startsWith('consumer of queue "external" could not subscribe again: ')), JSON.stringify(lines));
            await withRawChannel(async (channel) => {
              await channel.assertQueue(external, { durable: true, arguments: { "x-max-priority": 10 } });
              channel.sendToQueue(external, Buffer.from('"hello"'), { messageId: "m-ext" });
              // An RPC after the publish: the connection must not close before the publish is out.
              await channel.checkQueue(external);
            });
            await waitUntil(() => deliveries.length >= 1, "the delivery once the queue is back");
            assert.equal(deliveries[0].message.body, "hello");
            await deliveries[0].ack();
          },
          { logger, connectionName, reconnectDelayMs: 1000 },
        );
      } finally {
        await withRawChannel(async (channel) => {
          await channel.deleteQueue(external);
        });
      }
    });
  });
});
