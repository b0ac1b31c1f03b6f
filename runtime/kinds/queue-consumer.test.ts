import { test, describe } from "node:test";
import assert from "node:assert/strict";
import consumerKind, { type QueueConsumer } from "./queue-consumer.ts";
import queueKind from "./queue-queue.ts";
import driverKind from "./queue-driver-memory.ts";
import type { Component } from "../contracts/component.ts";
import type { RuntimeServices } from "../contracts/runtime-services.ts";
import type { QueueHandle } from "../drivers/queue/driver.ts";
import type { MemoryQueueDriver } from "../drivers/queue/memory.ts";
import type { CallableComponent, CallResult } from "../handlers/handler.ts";
import { runInContext } from "../modules/context.ts";
import type { Logger } from "../logger.ts";
import { queue } from "../modules/queue.ts";
import { captureLogger } from "../../test/support/logs.ts";
import { buildContext, registryFrom, registryOf, STAND_IN_MODULE } from "../../test/support/registry.ts";
import { sleep, waitUntil } from "../../test/support/wait.ts";

type Handler = (body: unknown, signal: AbortSignal | undefined) => unknown;

/** A function entry's component as the TypeScript handler kind builds it: a call runs inside the call context. */
function fakeFunction(handler: Handler, services: RuntimeServices, logger: Logger): CallableComponent {
  return {
    callable: () => ({
      entryId: "app:handler",
      call: (args, scope = {}) =>
        runInContext({ entryId: "app:handler", modules: new Set(["queue"]), services, logger, ...scope }, async (): Promise<CallResult> => {
          try {
            return { value: await handler(args[0], scope.signal) };
          } catch (error) {
            return { value: undefined, error: error instanceof Error ? error : new Error(String(error)) };
          }
        }),
    }),
  };
}

interface SetupOptions {
  handler: Handler;
  consumer?: Record<string, unknown>;
  queue?: Record<string, unknown>;
  /** Replaces the function component (to test a broken one). */
  funcComponent?: unknown;
}

async function setup(options: SetupOptions) {
  const { logger, lines } = captureLogger();
  const registry = await registryOf(
    [
      { name: "driver", kind: "queue.driver.memory" },
      { name: "tasks", kind: "queue.queue", driver: "app:driver", max_attempts: 3, backoff: { initial: "5ms", factor: 1, max: "5ms", jitter: 0 }, ...options.queue },
      { name: "handler", kind: "function.ts", source: "file://handler.mjs", method: "handle" },
      { name: "consumer", kind: "queue.consumer", queue: "app:tasks", func: "app:handler", ...options.consumer },
    ],
    { files: STAND_IN_MODULE },
  );
  const entries = registry.entries;
  const components = new Map<string, unknown>();
  const context = buildContext(registry, components, logger);
  const driver = driverKind.create(entries[0], context) as MemoryQueueDriver;
  components.set("app:driver", driver);
  components.set("app:tasks", queueKind.create(entries[1], context));
  components.set("app:handler", options.funcComponent ?? fakeFunction(options.handler, context.services, logger));
  const consumer = consumerKind.create(entries[3], context) as QueueConsumer;
  const tasks = components.get("app:tasks") as unknown as QueueHandle;
  await driver.start();
  return {
    driver,
    tasks,
    consumer,
    lines,
    stats: () => driver.stats("tasks"),
    async close() {
      await consumer.stop();
      await driver.stop();
    },
  };
}

function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

const EMPTY = { ready: 0, inFlight: 0, delayed: 0, dead: 0 };

describe("queue.consumer", () => {
  test("rate on the consumer and rate on its queue: each one caps the handler calls per window", async () => {
    for (const [where, limit] of [["consumer", 2], ["queue", 3]] as const) {
      const bodies: unknown[] = [];
      const rate = { rate: { limit, per: "500h" } };
      const run = await setup({ handler: (body) => void bodies.push(body), ...(where === "consumer" ? { consumer: rate } : { queue: rate }) });
      try {
        await run.consumer.start();
        for (let index = 0; index < 5; index++) await run.tasks.publish({ index });
        await waitUntil(() => bodies.length === limit, `${limit} calls`);
        await sleep(60);
        assert.equal(bodies.length, limit, `${where}: more calls than its rate allows`);
        await waitUntil(async () => (await run.stats()).ready === 5 - limit && (await run.stats()).inFlight === 0, "the acks");
      } finally {
        await run.close();
      }
    }
  });

  test("calls the function with each message body and acks when it returns nothing, true or a value", async () => {
    const bodies: unknown[] = [];
    const results: Record<string, unknown> = { a: undefined, b: true, c: { output: "x" }, d: 0 };
    const run = await setup({
      handler: (body) => {
        bodies.push(body);
        return results[(body as { key: string }).key];
      },
    });
    try {
      await run.consumer.start();
      for (const key of Object.keys(results)) await run.tasks.publish({ key });
      await waitUntil(() => bodies.length === 4, "4 calls");
      // Stopping waits for the handlers and their settlements: what follows is final.
      await run.consumer.stop();
      assert.deepEqual(await run.stats(), EMPTY);
      assert.deepEqual(bodies, [{ key: "a" }, { key: "b" }, { key: "c" }, { key: "d" }]);
    } finally {
      await run.close();
    }
  });

  test("a handler returning false fails the message: it is retried with attempts + 1, then buried", async () => {
    const attempts: number[] = [];
    const run = await setup({
      handler: () => {
        attempts.push(queue.message().attempts());
        return false;
      },
    });
    try {
      await run.consumer.start();
      const id = await run.tasks.publish({ job: 1 });
      await waitUntil(() => run.driver.deadMessages("tasks").length === 1, "the message to be buried");
      assert.deepEqual(attempts, [1, 2, 3]);
      assert.equal(run.driver.deadMessages("tasks")[0].error, "handler returned false");
      const warnings = run.lines.filter((line) => line.level === "warn" && line.entry === "app:consumer");
      assert.deepEqual(
        warnings.map((line) => [line.msg, line.messageId, line.attempt]),
        [1, 2, 3].map((attempt) => [`message ${id} failed on attempt ${attempt}: handler returned false`, id, attempt]),
      );
    } finally {
      await run.close();
    }
  });

  test("a throwing handler fails the message with the error's text", async () => {
    const run = await setup({
      queue: { max_attempts: 1 },
      handler: () => {
        throw new Error("bad input: missing action");
      },
    });
    try {
      await run.consumer.start();
      await run.tasks.publish({ job: 1 });
      await waitUntil(() => run.driver.deadMessages("tasks").length === 1, "the message to be buried");
      assert.equal(run.driver.deadMessages("tasks")[0].error, "bad input: missing action");
    } finally {
      await run.close();
    }
  });

  test("a callable that rejects (a broken language runtime) fails the message too", async () => {
    const broken: CallableComponent = {
      callable: () => ({ entryId: "app:handler", call: async () => Promise.reject(new Error("lua state crashed")) }),
    };
    const run = await setup({ queue: { max_attempts: 1 }, handler: () => {}, funcComponent: broken });
    try {
      await run.consumer.start();
      await run.tasks.publish({ job: 1 });
      await waitUntil(() => run.driver.deadMessages("tasks").length === 1, "the message to be buried");
      assert.equal(run.driver.deadMessages("tasks")[0].error, "lua state crashed");
    } finally {
      await run.close();
    }
  });

  test("runs at most `concurrency` handlers at once", async () => {
    const hold = gate();
    let running = 0;
    let maxRunning = 0;
    let done = 0;
    const run = await setup({
      consumer: { concurrency: 3, prefetch: 10 },
      handler: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await hold.wait;
        running--;
        done++;
      },
    });
    try {
      await run.consumer.start();
      for (let index = 0; index < 12; index++) await run.tasks.publish({ index });
      // Held until three run: how far apart the publishes were cannot keep them from overlapping.
      await waitUntil(() => running === 3, "3 handlers to run");
      hold.open();
      await waitUntil(() => done === 12, "12 handlers to finish");
      assert.equal(maxRunning, 3);
    } finally {
      await run.close();
    }
  });

  test("leases at most `prefetch` messages from the queue", async () => {
    const hold = gate();
    let started = 0;
    const run = await setup({
      consumer: { concurrency: 2, prefetch: 4 },
      handler: async () => {
        started++;
        await hold.wait;
      },
    });
    try {
      for (let index = 0; index < 10; index++) await run.tasks.publish({ index });
      await run.consumer.start();
      await waitUntil(() => started === 2, "2 handlers to start");
      await waitUntil(async () => (await run.stats()).inFlight === 4, "4 messages leased");
      // A quiet moment in which a wrong consumer would lease a fifth or start a third handler.
      await sleep(20);
      assert.equal(started, 2);
      assert.deepEqual(await run.stats(), { ready: 6, inFlight: 4, delayed: 0, dead: 0 });
      hold.open();
      await waitUntil(() => started === 10, "all 10 handlers");
    } finally {
      hold.open();
      await run.close();
    }
  });

  test("a handler that acks itself is not settled again, even when it then returns false", async () => {
    let calls = 0;
    const run = await setup({
      handler: async () => {
        calls++;
        await queue.message().ack();
        return false;
      },
    });
    try {
      await run.consumer.start();
      await run.tasks.publish({ job: 1 });
      await waitUntil(() => calls === 1, "the call");
      await run.consumer.stop();
      assert.equal(calls, 1);
      assert.deepEqual(await run.stats(), EMPTY);
      assert.deepEqual(run.lines.filter((line) => line.entry !== "app:driver" && (line.level === "warn" || line.level === "error")), []);
    } finally {
      await run.close();
    }
  });

  test("a handler's nack() goes through the queue's retry policy", async () => {
    const attempts: number[] = [];
    const run = await setup({
      queue: { max_attempts: 2 },
      handler: async () => {
        const message = queue.message();
        attempts.push(message.attempts());
        if (message.attempts() === 1) await message.nack();
      },
    });
    try {
      await run.consumer.start();
      await run.tasks.publish({ job: 1 });
      await waitUntil(() => attempts.length === 2, "the retry");
      await run.consumer.stop();
      assert.deepEqual(attempts, [1, 2]);
      assert.deepEqual(await run.stats(), EMPTY);
    } finally {
      await run.close();
    }
  });

  test("settling a message twice throws 'message already settled'", async () => {
    const errors: unknown[] = [];
    const run = await setup({
      handler: async () => {
        const message = queue.message();
        await message.ack();
        await message.nack().catch((error: unknown) => errors.push(error));
        await message.ack().catch((error: unknown) => errors.push(error));
      },
    });
    try {
      await run.consumer.start();
      await run.tasks.publish({ job: 1 });
      await waitUntil(() => errors.length === 2, "two refused settlements");
      for (const error of errors) assert.deepEqual([(error as { code: string }).code, (error as Error).message], ["E_ALREADY_SETTLED", "message already settled"]);
    } finally {
      await run.close();
    }
  });

  test("queue.message() exposes the delivery's id, headers, attempts and body", async () => {
    let seen: unknown;
    const run = await setup({
      handler: () => {
        const message = queue.message();
        seen = { id: message.id(), source: message.header("source"), missing: message.header("nope"), headers: message.headers(), attempts: message.attempts(), body: message.body() };
      },
    });
    try {
      await run.consumer.start();
      const id = await run.tasks.publish({ job: 7 }, { source: "test", timestamp: 5 });
      await waitUntil(() => seen !== undefined, "the call");
      assert.deepEqual(seen, { id, source: "test", missing: undefined, headers: { source: "test", timestamp: 5 }, attempts: 1, body: { job: 7 } });
    } finally {
      await run.close();
    }
  });

  test("a handler running past `timeout` is aborted and its message fails with 'handler timed out after 30ms'", async () => {
    let aborted = false;
    let lateAck: unknown;
    const run = await setup({
      queue: { max_attempts: 1 },
      consumer: { timeout: "30ms" },
      handler: async (_body, signal) => {
        const message = queue.message();
        await new Promise<void>((resolve) => signal!.addEventListener("abort", () => resolve()));
        aborted = signal!.aborted;
        await message.ack().catch((error: unknown) => (lateAck = error));
      },
    });
    try {
      await run.consumer.start();
      await run.tasks.publish({ job: 1 });
      await waitUntil(() => run.driver.deadMessages("tasks").length === 1 && lateAck !== undefined, "the timeout");
      assert.equal(run.driver.deadMessages("tasks")[0].error, "handler timed out after 30ms");
      assert.equal(aborted, true);
      assert.equal((lateAck as Error).message, "message already settled");
    } finally {
      await run.close();
    }
  });

  test("stop releases waiting messages, lets running handlers finish, and says what it does", async () => {
    const hold = gate();
    let started = 0;
    let finished = 0;
    const run = await setup({
      consumer: { concurrency: 2, prefetch: 5 },
      handler: async () => {
        started++;
        await hold.wait;
        finished++;
      },
    });
    try {
      await run.consumer.start();
      for (let index = 0; index < 5; index++) await run.tasks.publish({ index });
      await waitUntil(() => started === 2, "2 running handlers");
      let stopped = false;
      const stopping = run.consumer.stop().then(() => (stopped = true));
      await waitUntil(() => run.lines.some((line) => line.msg.startsWith("stopping")), "the stopping line");
      assert.deepEqual(await run.stats(), { ready: 3, inFlight: 2, delayed: 0, dead: 0 });
      assert.equal(stopped, false);
      hold.open();
      await stopping;
      assert.equal(finished, 2);
      assert.equal(started, 2);
      assert.deepEqual(await run.stats(), { ready: 3, inFlight: 0, delayed: 0, dead: 0 });
      const info = run.lines.filter((line) => line.level === "info" && line.entry === "app:consumer").map((line) => line.msg);
      assert.deepEqual(info, ["stopping: stopped taking messages, released 3 waiting messages, waiting up to 10s for 2 running handlers", "stopped"]);
    } finally {
      hold.open();
      await run.close();
    }
  });

  test("stop gives up on handlers after lifecycle.stop_timeout and aborts them", async () => {
    const signals: AbortSignal[] = [];
    const run = await setup({
      consumer: { concurrency: 2, prefetch: 2, lifecycle: { stop_timeout: "30ms" } },
      handler: async (_body, signal) => {
        signals.push(signal!);
        await new Promise<void>((resolve) => signal!.addEventListener("abort", () => resolve()));
      },
    });
    try {
      await run.consumer.start();
      await run.tasks.publish(1);
      await run.tasks.publish(2);
      await waitUntil(() => signals.length === 2, "2 running handlers");
      await run.consumer.stop();
      assert.deepEqual(signals.map((signal) => signal.aborted), [true, true]);
      const warning = run.lines.find((line) => line.level === "warn" && line.entry === "app:consumer");
      assert.equal(warning?.msg, "2 handlers still running after 30ms: aborted; their messages stay unsettled");
    } finally {
      await run.close();
    }
  });

  test("can be started again after a stop", async () => {
    let calls = 0;
    const run = await setup({ handler: () => void calls++ });
    try {
      await run.consumer.start();
      await run.consumer.stop();
      await run.consumer.start();
      await run.tasks.publish(1);
      await waitUntil(() => calls === 1, "the call");
    } finally {
      await run.close();
    }
  });

  test("warns when prefetch is below concurrency", async () => {
    const run = await setup({ consumer: { concurrency: 4, prefetch: 2 }, handler: () => {} });
    try {
      await run.consumer.start();
      assert.ok(run.lines.some((line) => line.level === "warn" && line.msg === "prefetch 2 is below concurrency 4: at most 2 handlers run at once"));
    } finally {
      await run.close();
    }
  });

  test("start refuses a func that is not callable", async () => {
    const run = await setup({ handler: () => {}, funcComponent: {} });
    await assert.rejects(run.consumer.start(), {
      code: "E_CONSUMER_FUNC",
      message: "consumer app:consumer: app:handler is not a callable function",
    });
    await run.driver.stop();
  });

  test("start refuses a queue reference that is not a queue", async () => {
    const { logger } = captureLogger();
    // The validator reports it (E_REF_KIND); the consumer refuses it too when built without that check.
    const registry = await registryFrom(
      `
      - name: db
        kind: db.sql.sqlite
        file: tasks.db
      - name: handler
        kind: function.ts
        source: file://handler.mjs
        method: handle
      - name: consumer
        kind: queue.consumer
        queue: app:db
        func: app:handler
      `,
      { files: STAND_IN_MODULE, expectProblems: ["E_REF_KIND"] },
    );
    const components = new Map<string, unknown>([
      ["app:db", {}],
      ["app:handler", { callable: () => ({ entryId: "app:handler", call: async () => ({ value: undefined }) }) } as CallableComponent],
    ]);
    const consumer = consumerKind.create(registry.byId.get("app:consumer")!, buildContext(registry, components, logger));
    await assert.rejects(consumer.start!(), {
      code: "E_CONSUMER_QUEUE",
      message: "consumer app:consumer: app:db is not a queue",
    });
  });

  test("start fails, and can be tried again, when the queue cannot be consumed", async () => {
    const run = await setup({ handler: () => {} });
    await run.driver.stop();
    await assert.rejects(run.consumer.start(), {
      code: "E_QUEUE_STOPPED",
      message: "queue driver app:driver is stopped: queue 'tasks' is unavailable",
    });
    await run.driver.start();
    await run.consumer.start();
    assert.equal(run.consumer.describe(), "consuming app:tasks with 1 worker (prefetch 10)");
    await run.close();
  });

  test("describe says which queue it consumes, with how many workers and what prefetch", async () => {
    const two = await setup({ consumer: { concurrency: 2, prefetch: 5 }, handler: () => {} });
    assert.equal(two.consumer.describe(), "consuming app:tasks with 2 workers (prefetch 5)");
    const one = await setup({ handler: () => {} });
    assert.equal(one.consumer.describe(), "consuming app:tasks with 1 worker (prefetch 10)");
    await two.close();
    await one.close();
  });
});
