import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MAX_TIMER_MS } from "./duration.ts";
import { setLongTimeout, sleepLong } from "./timers.ts";

describe("setLongTimeout", () => {
  test("a wait longer than a Node.js timer holds fires only once all of it has passed", (context) => {
    context.mock.timers.enable({ apis: ["setTimeout"] });
    let fired = 0;
    setLongTimeout(() => fired++, 2 * MAX_TIMER_MS + 5);
    context.mock.timers.tick(MAX_TIMER_MS);
    context.mock.timers.tick(MAX_TIMER_MS);
    assert.equal(fired, 0);
    context.mock.timers.tick(5);
    assert.equal(fired, 1);
  });

  test("clear() stops it in any of its steps", (context) => {
    context.mock.timers.enable({ apis: ["setTimeout"] });
    let fired = 0;
    const timer = setLongTimeout(() => fired++, MAX_TIMER_MS + 10);
    context.mock.timers.tick(MAX_TIMER_MS);
    timer.clear();
    context.mock.timers.tick(20);
    assert.equal(fired, 0);
  });
});

describe("sleepLong", () => {
  test("a 720h sleep does not end early (Node's own timer would fire after 1 ms)", async () => {
    const controller = new AbortController();
    let settled = false;
    const sleeping = sleepLong(720 * 3_600_000, controller.signal).then(
      () => (settled = true),
      (error: Error) => error,
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(settled, false);
    controller.abort();
    const error = await sleeping;
    assert.ok(error instanceof Error && error.name === "AbortError");
  });

  test("an already aborted signal rejects at once", async () => {
    const controller = new AbortController();
    controller.abort(new Error("stopped"));
    await assert.rejects(sleepLong(10, controller.signal), /stopped/);
  });
});
