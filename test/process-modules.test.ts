/** The process-model modules (funcs, env, registry, events, io) from a TypeScript handler, beside a Lua one. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startRuntime, type Runtime } from "../runtime/runtime.ts";
import { createLogger } from "../runtime/logger.ts";

describe("process-model modules from TypeScript handlers", () => {
  let runtime: Runtime;
  before(async () => {
    runtime = await startRuntime({ path: "test/fixtures/process-modules", logger: createLogger({ level: "error", sink: { write() {} } }) });
  });
  after(async () => {
    await runtime?.stop();
  });

  test("a TypeScript handler reads env, calls a Lua function (sync and async), reads registry data and receives its event", async () => {
    assert.deepEqual(await runtime.call("app:greet", "ada"), { text: "Hello, ADA!", again: "AGAIN", event: "/greet/ada", next: "Hi" });
  });

  test("io outside a terminal says where it works", async () => {
    assert.equal(await runtime.call("app:outside"), "io: app:outside has no terminal: io works only in a process run on a terminal (taskrt run -x)");
  });
});
