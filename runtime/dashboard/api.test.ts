import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Context } from "hono";
import type { BoundDeadLetters, QueueHandle, QueueStats } from "../drivers/queue/driver.ts";
import type { ServerEnv } from "../http/exchange.ts";
import { createLogger } from "../logger.ts";
import { DashboardApi, type DashboardQueue } from "./api.ts";

const QUIET = createLogger({ level: "error", sink: { write() {} } });

function fakeQueue(id: string, options: { stats?: () => Promise<QueueStats>; deadLetters?: BoundDeadLetters } = {}): DashboardQueue & { statsCalls: number } {
  const queue = {
    id,
    driverId: "app:broker",
    driverKind: "queue.driver.amqp",
    statsCalls: 0,
    handle: {
      id,
      stats: async () => {
        queue.statsCalls++;
        return options.stats ? options.stats() : { ready: 3, inFlight: 1, delayed: 0, dead: 2 };
      },
      deadLetters: () => options.deadLetters,
      refusal: () => "RabbitMQ keeps no pause state",
    } as unknown as QueueHandle,
  };
  return queue;
}

function request(query: Record<string, string>): Context<ServerEnv> {
  return { req: { query: (name: string) => query[name] } } as unknown as Context<ServerEnv>;
}

async function body(response: Response): Promise<[number, any]> {
  return [response.status, await response.json()];
}

describe("dashboard API", () => {
  test("open pages share one overview per half refresh interval", async () => {
    let now = 1_000;
    const queue = fakeQueue("app:jobs");
    const api = new DashboardApi({ title: "t", refreshMs: 2000, queues: [queue], consumers: [], consumerState: () => "RUNNING", logger: QUIET, now: () => now });
    await Promise.all([api.overview(), api.overview(), api.overview()]);
    now += 999;
    await api.overview();
    assert.equal(queue.statsCalls, 1);
    now += 1;
    await api.overview();
    assert.equal(queue.statsCalls, 2);
  });

  test("an overview that is slow to compute is recomputed at most every 20 times its cost", async () => {
    let now = 0;
    const queue = fakeQueue("app:jobs", {
      stats: async () => {
        now += 300; // counting took 300 ms
        return { ready: 0, inFlight: 0, delayed: 0, dead: 0 };
      },
    });
    const api = new DashboardApi({ title: "t", refreshMs: 2000, queues: [queue], consumers: [], consumerState: () => undefined, logger: QUIET, now: () => now });
    await api.overview();
    now += 5_000;
    await api.overview();
    assert.equal(queue.statsCalls, 1, "within 20 × 300 ms the shared overview is reused");
    now += 1_000;
    await api.overview();
    assert.equal(queue.statsCalls, 2);
  });

  test("a queue whose driver cannot be asked shows the error; the others still show their counts", async () => {
    const broken = fakeQueue("app:remote", { stats: async () => Promise.reject(new Error("connection refused")) });
    const api = new DashboardApi({
      title: "t",
      refreshMs: 2000,
      queues: [broken, fakeQueue("app:jobs")],
      consumers: [{ id: "app:worker", queueId: "app:jobs", concurrency: 4 }],
      consumerState: () => "RUNNING",
      logger: QUIET,
    });
    const [status, overview] = await body(await api.overview());
    assert.equal(status, 200);
    assert.deepEqual(overview.queues[0], { id: "app:remote", driver: "app:broker", driverKind: "queue.driver.amqp", deadLetters: false, listsInFlight: false, browses: false, error: "connection refused" });
    assert.deepEqual(overview.queues[1].ready, 3);
    assert.equal(overview.queues[1].pauseRefusal, "RabbitMQ keeps no pause state");
    assert.equal(overview.queues[1].paused, undefined);
    assert.deepEqual(overview.consumers, [{ id: "app:worker", queue: "app:jobs", concurrency: 4, state: "running" }]);
  });

  test("dead letters of a driver that cannot list them: 409 naming the driver", async () => {
    const api = new DashboardApi({ title: "t", refreshMs: 2000, queues: [fakeQueue("app:jobs")], consumers: [], consumerState: () => undefined, logger: QUIET });
    assert.deepEqual(await body(await api.deadLetters(request({ queue: "app:jobs" }))), [
      409,
      { error: "app:jobs is on app:broker (queue.driver.amqp), which cannot list its dead messages; use the broker's own tools" },
    ]);
  });

  test("pausing a queue whose driver cannot pause: 409 with the driver's reason", async () => {
    const api = new DashboardApi({ title: "t", refreshMs: 2000, queues: [fakeQueue("app:jobs")], consumers: [], consumerState: () => undefined, logger: QUIET });
    const context = { req: { json: async () => ({ queue: "app:jobs" }) } } as unknown as Context<ServerEnv>;
    assert.deepEqual(await body(await api.setPaused(context, "pause")), [
      409,
      { error: "app:jobs is on app:broker (queue.driver.amqp), which cannot pause: RabbitMQ keeps no pause state" },
    ]);
  });

  test("a store that fails answers 503 with the reason, and the failure is logged", async () => {
    const lines: string[] = [];
    const store: BoundDeadLetters = {
      list: async () => Promise.reject(new Error("database is locked")),
      retry: async () => false,
      discard: async () => false,
    };
    const api = new DashboardApi({
      title: "t",
      refreshMs: 2000,
      queues: [fakeQueue("app:jobs", { deadLetters: store })],
      consumers: [],
      consumerState: () => undefined,
      logger: createLogger({ level: "warn", format: "json", sink: { write: (line) => void lines.push(line) } }),
    });
    assert.deepEqual(await body(await api.deadLetters(request({ queue: "app:jobs" }))), [
      503,
      { error: "cannot list the dead letters of app:jobs: database is locked" },
    ]);
    assert.match(lines.join(""), /cannot list the dead letters of app:jobs: database is locked/);
  });
});
