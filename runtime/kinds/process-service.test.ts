import { describe, test } from "node:test";
import assert from "node:assert/strict";
import processService from "./process-service.ts";
import type { Component } from "../contracts/component.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import type { CallResult } from "../handlers/handler.ts";
import type { Entry } from "../registry/entry.ts";
import { createLogger } from "../logger.ts";
import { waitUntil } from "../../test/support/wait.ts";

function serviceEntry(lifecycle: Record<string, unknown>): Entry {
  const location = { file: "/virtual/_index.yaml", line: 1, column: 1 };
  return {
    id: "app:migrate-service",
    namespace: "app",
    name: "migrate-service",
    kind: "process.service",
    meta: {},
    data: { process: "migrate", host: "app:processes", input: ["a", 2], lifecycle },
    file: location.file,
    location,
    locate: () => location,
  };
}

/** A build context whose `app:migrate` runs `outcomes` in turn, recording the arguments. */
function contextWith(outcomes: CallResult[], calls: unknown[][], lines: string[]): BuildContext {
  const process = { callable: () => ({ entryId: "app:migrate", call: async (args: readonly unknown[]) => (calls.push([...args]), outcomes.shift() ?? { value: 0 }) }) };
  return {
    registry: { root: "/", entries: [], byId: new Map() },
    logger: createLogger({ format: "json", sink: { write: (line) => void lines.push(line) } }),
    services: { database: () => { throw new Error("unused"); }, queue: () => { throw new Error("unused"); } },
    component: <T,>(id: string) => {
      assert.equal(id, "app:migrate");
      return process as unknown as T;
    },
  };
}

describe("process.service", () => {
  test("a normal return completes the service, whatever the value, with the input as arguments", async () => {
    const calls: unknown[][] = [];
    const service = processService.create(serviceEntry({}), contextWith([{ value: 1 }], calls, [])) as Component & { state(): string };
    await service.start!();
    await service.completed!();
    assert.deepEqual(calls, [["a", 2]]);
    assert.equal(service.state(), "EXITED");
    await service.stop!();
  });

  test("a failure restarts it after the backoff, until it succeeds", async () => {
    const calls: unknown[][] = [];
    const lines: string[] = [];
    const outcomes = [{ value: undefined, error: new Error("database locked") }, { value: undefined, error: new Error("database locked") }];
    const service = processService.create(serviceEntry({ restart: { initial_delay: "5ms", jitter: 0 } }), contextWith(outcomes, calls, lines));
    await service.start!();
    await service.completed!();
    assert.equal(calls.length, 3);
    const warnings = lines.map((line) => JSON.parse(line)).filter((line) => line.level === "warn");
    assert.deepEqual(warnings.map((line) => [line.msg, line.attempt, line.error]), [
      ["process failed, restarting", 1, "database locked"],
      ["process failed, restarting", 2, "database locked"],
    ]);
  });

  test("after max_attempts failures it gives up and says why", async () => {
    const failing = Array.from({ length: 5 }, () => ({ value: undefined, error: new Error("no such table") }));
    const service = processService.create(serviceEntry({ restart: { initial_delay: "1ms", max_attempts: 3 } }), contextWith(failing, [], []));
    await service.start!();
    await assert.rejects(service.completed!(), { message: "app:migrate-service: app:migrate failed 3 times: no such table" });
  });

  test("stop interrupts the restart wait", async () => {
    const failing = Array.from({ length: 5 }, () => ({ value: undefined, error: new Error("nope") }));
    const service = processService.create(serviceEntry({ restart: { initial_delay: "1h" } }), contextWith(failing, [], [])) as Component & { state(): string };
    await service.start!();
    await waitUntil(() => service.state() === "FAILED", "the first failure: the service waits an hour to restart");
    await service.stop!();
    assert.equal(service.state(), "STOPPED");
    await assert.rejects(service.completed!(), { message: "app:migrate-service was stopped before it finished" });
  });
});
