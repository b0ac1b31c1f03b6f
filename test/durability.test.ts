/**
 * @module test/durability — delayed and prioritised messages end to end: `queue.publish` in a
 * TypeScript handler → queue.queue → the SQLite driver in the app's database → queue.consumer,
 * across a restart of the runtime on the same file (test/fixtures/durability).
 */
import { after, afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startRuntime, type Runtime } from "../runtime/runtime.ts";
import type { CallableComponent } from "../runtime/handlers/handler.ts";
import type { SqlDatabase } from "../runtime/drivers/sql/driver.ts";
import type { QueueHandle } from "../runtime/drivers/queue/driver.ts";
import { capturingLogger, temporaryDirectory, waitFor } from "./helpers.ts";

const REGISTRY = "test/fixtures/durability/_index.yaml";

interface Publication {
  label: string;
  options?: Record<string, unknown>;
}

interface Delivery {
  label: string;
  delivered_at: number;
  attempts: number;
}

const temporary = temporaryDirectory("taskrt-durability-");
const running = new Set<Runtime>();
let databaseCount = 0;

afterEach(async () => {
  for (const runtime of running) await runtime.stop();
  running.clear();
});
after(() => temporary.remove());

function freshDatabase(): string {
  return path.join(temporary.directory, `durability-${++databaseCount}.db`);
}

async function start(databaseFile: string): Promise<Runtime> {
  const runtime = await startRuntime({ path: REGISTRY, overrides: [`durability:db:file=${databaseFile}`], logger: capturingLogger() });
  running.add(runtime);
  return runtime;
}

async function stop(runtime: Runtime): Promise<void> {
  await runtime.stop();
  running.delete(runtime);
}

/** Calls the fixture's publisher, which publishes every message at once and says when it began. */
async function publish(runtime: Runtime, messages: Publication[]): Promise<{ startedAt: number; ids: string[] }> {
  const { value, error } = await runtime.component<CallableComponent>("durability:publish").callable().call([messages]);
  if (error) throw error;
  return value as { startedAt: number; ids: string[] };
}

/** The deliveries recorded so far, in the order they were handled. */
async function deliveries(runtime: Runtime): Promise<Delivery[]> {
  const database = runtime.component<SqlDatabase>("durability:db");
  try {
    return (await database.query("SELECT label, delivered_at, attempts FROM deliveries ORDER BY rowid")) as unknown as Delivery[];
  } catch (error) {
    if (/no such table/.test(String(error))) return [];
    throw error;
  }
}

async function waitForDeliveries(runtime: Runtime, count: number, what: string): Promise<Delivery[]> {
  return waitFor(async () => {
    const recorded = await deliveries(runtime);
    return recorded.length >= count ? recorded : undefined;
  }, what, 20_000);
}

/** The handler records a delivery before its ack commits: wait for the ack. */
async function waitForEmptyQueue(runtime: Runtime): Promise<void> {
  const jobs = runtime.component<QueueHandle>("durability:jobs");
  const empty = JSON.stringify({ ready: 0, inFlight: 0, delayed: 0, dead: 0 });
  await waitFor(async () => JSON.stringify(await jobs.stats()) === empty, "every message to be acked", 20_000);
}

describe("delayed publish through the SQLite queue and a consumer", () => {
  test('a message published with {delay: "300ms"} is handled once, not before its time, after one published later without delay', async () => {
    const runtime = await start(freshDatabase());
    const { startedAt } = await publish(runtime, [{ label: "delayed", options: { delay: "300ms" } }]);
    await publish(runtime, [{ label: "at once" }]);

    const recorded = await waitForDeliveries(runtime, 2, "both messages to be handled");
    assert.deepEqual(
      recorded.map((delivery) => [delivery.label, delivery.attempts]),
      [
        ["at once", 1],
        ["delayed", 1],
      ],
    );
    const delayed = recorded[1];
    assert.ok(delayed.delivered_at >= startedAt + 300, `delivered ${delayed.delivered_at - startedAt}ms after the publish began, before its 300ms delay`);
    await waitForEmptyQueue(runtime);
  });

  test("a delayed message is held while it waits, survives a restart, and is handled once after its time", async () => {
    const databaseFile = freshDatabase();
    const first = await start(databaseFile);
    const { startedAt } = await publish(first, [{ label: "across restart", options: { delay: "1500ms" } }]);
    const waiting = await first.component<QueueHandle>("durability:jobs").stats();
    const recordedBeforeStop = await deliveries(first);
    await stop(first);
    // Read only if the delay had not passed yet: then the message must still be waiting, undelivered.
    if (Date.now() < startedAt + 1500) {
      assert.deepEqual(waiting, { ready: 0, inFlight: 0, delayed: 1, dead: 0 });
      assert.deepEqual(recordedBeforeStop, []);
    }

    const second = await start(databaseFile);
    const [delivery] = await waitForDeliveries(second, 1, "the delayed message to be handled after the restart");
    assert.deepEqual([delivery.label, delivery.attempts], ["across restart", 1]);
    assert.ok(delivery.delivered_at >= startedAt + 1500, `delivered ${delivery.delivered_at - startedAt}ms after the publish began, before its 1500ms delay`);
    // Once the queue is empty the message was acked and cannot come again: it was handled once.
    await waitForEmptyQueue(second);
    assert.equal((await deliveries(second)).length, 1, "handled once");
  });

  test('a "delay" header delays delivery as the delay option does (the form Lua handlers can write)', async () => {
    const runtime = await start(freshDatabase());
    const { startedAt } = await publish(runtime, [{ label: "header delay", options: { headers: { delay: "300ms" } } }]);
    const [delivery] = await waitForDeliveries(runtime, 1, "the message to be handled");
    assert.equal(delivery.label, "header delay");
    assert.ok(delivery.delivered_at >= startedAt + 300, `delivered ${delivery.delivered_at - startedAt}ms after the publish began, before its 300ms delay header`);
  });
});

describe("priority through the SQLite queue and a consumer", () => {
  test("messages published together are handled highest priority first, in publish order within a priority", async () => {
    const runtime = await start(freshDatabase());
    await publish(runtime, [
      { label: "low" },
      { label: "high 1", options: { priority: 5 } },
      { label: "mid", options: { priority: 1 } },
      { label: "high 2", options: { priority: 5 } },
    ]);
    const recorded = await waitForDeliveries(runtime, 4, "the four messages to be handled");
    assert.deepEqual(
      recorded.map((delivery) => delivery.label),
      ["high 1", "high 2", "mid", "low"],
    );
  });

  test('a "priority" header orders delivery as the priority option does', async () => {
    const runtime = await start(freshDatabase());
    await publish(runtime, [
      { label: "low" },
      { label: "high", options: { headers: { priority: 5 } } },
      { label: "mid", options: { headers: { priority: 1 } } },
    ]);
    const recorded = await waitForDeliveries(runtime, 3, "the three messages to be handled");
    assert.deepEqual(
      recorded.map((delivery) => delivery.label),
      ["high", "mid", "low"],
    );
  });
});
