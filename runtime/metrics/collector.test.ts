import { describe, test } from "node:test";
import assert from "node:assert/strict";
import consumerKind, { type QueueConsumer } from "../kinds/queue-consumer.ts";
import queueKind from "../kinds/queue-queue.ts";
import driverKind from "../kinds/queue-driver-memory.ts";
import type { RuntimeView } from "../contracts/build-context.ts";
import type { CallableComponent, CallResult } from "../handlers/handler.ts";
import type { QueueHandle } from "../drivers/queue/driver.ts";
import type { MemoryQueueDriver } from "../drivers/queue/memory.ts";
import type { MessageScope } from "../modules/context.ts";
import { captureLogger } from "../../test/support/logs.ts";
import { buildContext, registryFrom, STAND_IN_MODULE } from "../../test/support/registry.ts";
import { waitUntil } from "../../test/support/wait.ts";
import type { Registry } from "../registry/entry.ts";
import { MetricsCollector, type CollectorOptions } from "./collector.ts";
import { Instruments } from "./instruments.ts";

function view(states: Record<string, string>): RuntimeView {
  return {
    state: (id) => states[id],
    finished: () => false,
    services: () => Object.keys(states),
    bootServices: () => Object.keys(states),
  };
}

const EMPTY_REGISTRY: Registry = { root: "/test", entries: [], byId: new Map() };

function collector(options: Partial<CollectorOptions> & Pick<CollectorOptions, "registry" | "runtime">): MetricsCollector {
  return new MetricsCollector({
    entryId: "app:metrics",
    prefix: "taskrt_",
    defaultMetrics: false,
    component: () => {
      throw new Error("no components");
    },
    logger: captureLogger().logger,
    ...options,
  });
}

async function scrapeLines(metrics: MetricsCollector): Promise<string[]> {
  return (await metrics.metrics()).split("\n");
}

function assertLines(scraped: string[], expected: string[]): void {
  for (const line of expected) assert.ok(scraped.includes(line), `missing line: ${line}\n${scraped.join("\n")}`);
}

describe("metrics collector", () => {
  test("counts a consumer's messages by outcome: processed (by the runtime or the handler's own ack), failed, retried, dead_lettered", async () => {
    const { logger } = captureLogger();
    // No dead-letter queue: the last failure buries the message, which counts as dead-lettered too.
    const registry = await registryFrom(
      `
      - name: driver
        kind: queue.driver.memory
      - name: tasks
        kind: queue.queue
        driver: app:driver
        max_attempts: 2
        backoff: { initial: 1ms, factor: 1, max: 1ms, jitter: 0 }
      - name: handler
        kind: function.ts
        source: file://handler.mjs
        method: handle
      - name: consumer
        kind: queue.consumer
        queue: app:tasks
        func: app:handler
      `,
      { files: STAND_IN_MODULE },
    );
    const entries = registry.entries;
    const components = new Map<string, unknown>();
    const instruments = new Instruments();
    const context = { ...buildContext(registry, components, logger), instruments };
    const driver = driverKind.create(entries[0], context) as MemoryQueueDriver;
    components.set("app:driver", driver);
    components.set("app:tasks", queueKind.create(entries[1], context));
    let calls = 0;
    const handler: CallableComponent = {
      callable: () => ({
        entryId: "app:handler",
        async call(args, scope = {}): Promise<CallResult> {
          calls++;
          const message = scope.message as MessageScope;
          switch ((args[0] as { act: string }).act) {
            case "ack":
              await message.ack();
              return { value: undefined };
            case "nack":
              await message.nack();
              return { value: undefined };
            case "throw":
              return { value: undefined, error: new Error("boom") };
            default:
              return { value: undefined };
          }
        },
      }),
    };
    components.set("app:handler", handler);
    const metrics = collector({ registry, runtime: view({ "app:driver": "RUNNING", "app:consumer": "RUNNING" }), component: (id) => components.get(id) as never });
    instruments.attach(metrics);
    const consumer = consumerKind.create(entries[3], context) as QueueConsumer;
    await driver.start();
    await consumer.start();
    try {
      const tasks = components.get("app:tasks") as QueueHandle;
      for (const act of ["return", "ack", "nack", "throw"]) await tasks.publish({ act });
      await waitUntil(() => calls === 6, "6 handler calls");
      // Settlements finish in the background, after the handler returned.
      const settled = 'taskrt_consumer_messages_total{consumer="app:consumer",outcome="dead_lettered"} 2';
      let scraped: string[] = [];
      await waitUntil(async () => (scraped = await scrapeLines(metrics)).includes(settled), "the dead-lettered messages to be counted");
      assertLines(scraped, [
        'taskrt_consumer_messages_total{consumer="app:consumer",outcome="processed"} 2',
        'taskrt_consumer_messages_total{consumer="app:consumer",outcome="failed"} 4',
        'taskrt_consumer_messages_total{consumer="app:consumer",outcome="retried"} 2',
        'taskrt_consumer_messages_total{consumer="app:consumer",outcome="dead_lettered"} 2',
        'taskrt_consumer_handler_duration_seconds_count{consumer="app:consumer"} 6',
        'taskrt_queue_messages{queue="app:tasks",state="dead"} 2',
        'taskrt_queue_messages{queue="app:tasks",state="ready"} 0',
      ]);
    } finally {
      await consumer.stop();
      await driver.stop();
    }
  });

  test("every outcome of a consumer reads 0 from the moment it starts", async () => {
    const metrics = collector({ registry: EMPTY_REGISTRY, runtime: view({}) });
    metrics.consumer("app:consumer");
    assertLines(await scrapeLines(metrics), [
      'taskrt_consumer_messages_total{consumer="app:consumer",outcome="processed"} 0',
      'taskrt_consumer_messages_total{consumer="app:consumer",outcome="failed"} 0',
      'taskrt_consumer_messages_total{consumer="app:consumer",outcome="retried"} 0',
      'taskrt_consumer_messages_total{consumer="app:consumer",outcome="dead_lettered"} 0',
    ]);
  });

  test("HTTP requests are one series per route pattern, method and status, with a duration histogram per route and method", async () => {
    const metrics = collector({ registry: EMPTY_REGISTRY, runtime: view({}) });
    const route = metrics.httpRoute("/api/tasks/{id}", "GET");
    route.record(200, 0.0004);
    route.record(200, 0.002);
    route.record(404, 0.001);
    assertLines(await scrapeLines(metrics), [
      'taskrt_http_requests_total{route="/api/tasks/{id}",method="GET",status="200"} 2',
      'taskrt_http_requests_total{route="/api/tasks/{id}",method="GET",status="404"} 1',
      'taskrt_http_request_duration_seconds_bucket{le="0.0005",route="/api/tasks/{id}",method="GET"} 1',
      'taskrt_http_request_duration_seconds_bucket{le="0.001",route="/api/tasks/{id}",method="GET"} 2',
      'taskrt_http_request_duration_seconds_count{route="/api/tasks/{id}",method="GET"} 3',
    ]);
  });

  test("queue depths are read on scrape; a queue whose driver is not running is left out, one whose stats fail is logged and left out", async () => {
    const registry = await registryFrom(`
      - name: running_driver
        kind: queue.driver.memory
      - name: stopped_driver
        kind: queue.driver.memory
      - name: up
        kind: queue.queue
        driver: app:running_driver
      - name: down
        kind: queue.queue
        driver: app:stopped_driver
      - name: broken
        kind: queue.queue
        driver: app:running_driver
    `);
    const queues: Record<string, Partial<QueueHandle>> = {
      "app:up": { stats: async () => ({ ready: 3, inFlight: 2, delayed: 1, dead: 4 }) },
      "app:down": { stats: async () => assert.fail("a stopped driver's queue is not asked") },
      "app:broken": { stats: async () => Promise.reject(new Error("database is locked")) },
    };
    const { logger, lines } = captureLogger();
    const metrics = collector({
      registry,
      runtime: view({ "app:running_driver": "RUNNING", "app:stopped_driver": "STOPPED" }),
      component: (id) => queues[id] as never,
      logger,
    });
    const scraped = await scrapeLines(metrics);
    assertLines(scraped, [
      'taskrt_queue_messages{queue="app:up",state="ready"} 3',
      'taskrt_queue_messages{queue="app:up",state="in_flight"} 2',
      'taskrt_queue_messages{queue="app:up",state="delayed"} 1',
      'taskrt_queue_messages{queue="app:up",state="dead"} 4',
    ]);
    assert.equal(scraped.filter((line) => line.includes('queue="app:down"') || line.includes('queue="app:broken"')).length, 0);
    assert.deepEqual(lines.map((line) => [line.level, line.msg]), [["warn", "cannot read the stats of app:broken: database is locked"]]);
  });

  test("entry_up is 1 for a running service and 0 otherwise; restarts of every process.service start at 0; start-up time is a gauge", async () => {
    const registry = await registryFrom(
      `
      - name: web
        kind: http.service
        addr: 127.0.0.1:0
      - name: processes
        kind: process.host
      - name: migrate
        kind: process.ts
        source: file://handler.mjs
        method: handle
      - name: migrate-service
        kind: process.service
        process: app:migrate
        host: app:processes
      - name: driver
        kind: queue.driver.memory
      - name: tasks
        kind: queue.queue
        driver: app:driver
      - name: handler
        kind: function.ts
        source: file://handler.mjs
        method: handle
      - name: batch
        kind: queue.consumer
        queue: app:tasks
        func: app:handler
      `,
      { files: STAND_IN_MODULE },
    );
    const metrics = collector({ registry, runtime: view({ "app:web": "RUNNING", "app:migrate-service": "RUNNING", "app:batch": "FAILED" }) });
    metrics.startupFinished(1.25);
    assertLines(await scrapeLines(metrics), [
      'taskrt_entry_up{id="app:web",kind="http.service"} 1',
      'taskrt_entry_up{id="app:migrate-service",kind="process.service"} 1',
      'taskrt_entry_up{id="app:batch",kind="queue.consumer"} 0',
      'taskrt_process_restarts_total{service="app:migrate-service"} 0',
      "taskrt_startup_seconds 1.25",
    ]);
    metrics.processRestarted("app:migrate-service");
    assertLines(await scrapeLines(metrics), ['taskrt_process_restarts_total{service="app:migrate-service"} 1']);
  });

  test("errors leaked by handler code are counted by entry, unknown when no call was running", async () => {
    const metrics = collector({ registry: EMPTY_REGISTRY, runtime: view({}) });
    metrics.unhandledError("app:create_task");
    metrics.unhandledError("app:create_task");
    metrics.unhandledError("unknown");
    assertLines(await scrapeLines(metrics), ['taskrt_unhandled_errors_total{entry="app:create_task"} 2', 'taskrt_unhandled_errors_total{entry="unknown"} 1']);
  });

  test("the prefix renames taskrt's metrics; default process metrics are served only when asked for", async () => {
    const plain = collector({ registry: EMPTY_REGISTRY, runtime: view({}), prefix: "tq_" });
    plain.startupFinished(2);
    const scraped = await scrapeLines(plain);
    assertLines(scraped, ["tq_startup_seconds 2", "# TYPE tq_http_requests_total counter"]);
    assert.equal(scraped.some((line) => line.startsWith("taskrt_") || line.startsWith("process_") || line.startsWith("nodejs_")), false);
    const withDefaults = collector({ registry: EMPTY_REGISTRY, runtime: view({}), defaultMetrics: true });
    const all = await scrapeLines(withDefaults);
    assert.ok(all.some((line) => line.startsWith("process_resident_memory_bytes ")), "process memory");
    assert.ok(all.some((line) => line.startsWith("nodejs_eventloop_lag_seconds ")), "event-loop lag");
  });
});
