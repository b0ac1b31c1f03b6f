/**
 * @module test/lua-processes-shutdown — SIGTERM reaches every Lua actor as a CANCEL event: the
 * service's root process and the workers it spawned each run their own cleanup, and the runtime
 * exits 0 (test/fixtures/lua/processes).
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { startChildApp, type ChildApp } from "./support/child-app.ts";
import { waitUntil } from "./support/wait.ts";

let app: ChildApp | undefined;
after(async () => {
  if (app?.isRunning()) await app.kill();
});

test("SIGTERM: every actor gets CANCEL and returns, then the runtime exits 0", async () => {
  app = await startChildApp({ registry: "test/fixtures/lua/processes/_index.yaml" });
  const messages = () => app!.logRecords().map((record) => String(record.msg));
  await waitUntil(() => messages().includes("actors ready\t3"), "the supervisor's three workers", 30_000);
  const exit = await app.terminate();
  assert.deepEqual(exit, { code: 0, signal: null });
  const cancelled = messages().filter((message) => message.endsWith("got CANCEL")).sort();
  assert.deepEqual(cancelled, ["supervisor got CANCEL", "worker 1 got CANCEL", "worker 2 got CANCEL", "worker 3 got CANCEL"]);
  assert.ok(!/still running .* after CANCEL/.test(app.stdout()), "no actor had to be ended by force");
});
