import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Delivery } from "../drivers/queue/driver.ts";
import { Instruments, NO_CONSUMER_RECORDER, NO_INSTRUMENTS, type MetricsSink } from "./instruments.ts";

const delivery: Delivery = {
  message: { id: "m1", body: {}, headers: {}, attempts: 1 },
  ack: async () => {},
  retry: async () => {},
  bury: async () => {},
  release: async () => {},
};

/** A sink that records every call it gets. */
function recordingSink(entryId: string, calls: string[]): MetricsSink {
  return {
    entryId,
    httpRoute: (route, method) => ({ record: (status, seconds) => void calls.push(`http ${method} ${route} ${status} ${seconds}`) }),
    consumer: (id) => ({ ...NO_CONSUMER_RECORDER, enabled: true, processed: () => void calls.push(`processed ${id}`) }),
    processRestarted: (id) => void calls.push(`restart ${id}`),
    startupFinished: (seconds) => void calls.push(`startup ${seconds}`),
    unhandledError: (entry) => void calls.push(`unhandled ${entry}`),
  };
}

describe("instruments", () => {
  test("without a collector every hook does nothing: no route recorder, the no-op consumer recorder, deliveries handed back as they are", () => {
    const instruments = new Instruments();
    assert.equal(instruments.attached, false);
    assert.equal(instruments.httpRoute("/tasks", "POST"), undefined);
    const consumer = instruments.consumer("app:worker");
    assert.equal(consumer, NO_CONSUMER_RECORDER);
    assert.equal(consumer.enabled, false);
    assert.equal(consumer.observeFailure(delivery), delivery);
    consumer.processed();
    consumer.failed();
    consumer.handled(1);
    instruments.processRestarted("app:migrate-service");
    instruments.startupFinished(0.5);
    instruments.unhandledError("app:create_task");
  });

  test("an attached collector gets every hook's calls until it is detached", () => {
    const calls: string[] = [];
    const instruments = new Instruments();
    const sink = recordingSink("app:metrics", calls);
    instruments.attach(sink);
    instruments.httpRoute("/tasks/{id}", "GET")!.record(200, 0.25);
    instruments.consumer("app:worker").processed();
    instruments.processRestarted("app:migrate-service");
    instruments.startupFinished(1.5);
    instruments.unhandledError("app:create_task");
    instruments.detach(sink);
    instruments.processRestarted("app:migrate-service");
    instruments.unhandledError("unknown");
    assert.equal(instruments.attached, false);
    assert.deepEqual(calls, ["http GET /tasks/{id} 200 0.25", "processed app:worker", "restart app:migrate-service", "startup 1.5", "unhandled app:create_task"]);
  });

  test("a second collector on one runtime is refused, naming both", () => {
    const instruments = new Instruments();
    instruments.attach(recordingSink("app:metrics", []));
    assert.throws(() => instruments.attach(recordingSink("ops:metrics", [])), {
      code: "E_METRICS_TWICE",
      message: "ops:metrics: metrics are already collected by app:metrics",
      hint: "declare one taskrt.metrics entry per registry",
    });
  });

  test("the shared no-runtime instruments refuse a collector, so none leaks between runtimes", () => {
    assert.throws(() => NO_INSTRUMENTS.attach(recordingSink("app:metrics", [])), {
      code: "E_INTERNAL",
      message: "internal: app:metrics was built without a runtime to measure (no BuildContext.instruments)",
    });
    assert.equal(NO_INSTRUMENTS.attached, false);
  });
});
