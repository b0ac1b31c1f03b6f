import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Context } from "hono";
import type { RouteHandler } from "../http/dispatch.ts";
import type { ServerEnv } from "../http/exchange.ts";
import { measureRoute } from "./http-route.ts";

const context = {} as Context<ServerEnv>;

function recorded(): { statuses: number[]; seconds: number[]; recorder: { record(status: number, seconds: number): void } } {
  const statuses: number[] = [];
  const seconds: number[] = [];
  return { statuses, seconds, recorder: { record: (status, elapsed) => (statuses.push(status), void seconds.push(elapsed)) } };
}

describe("measureRoute", () => {
  test("records the status of a response returned at once and passes the response through", async () => {
    const { statuses, seconds, recorder } = recorded();
    const response = new Response(null, { status: 204 });
    assert.equal(await measureRoute(() => response, recorder)(context), response);
    assert.deepEqual(statuses, [204]);
    assert.ok(seconds[0] >= 0);
  });

  test("records the status of a response that comes later, once it comes", async () => {
    const { statuses, recorder } = recorded();
    let answer!: (response: Response) => void;
    const handler: RouteHandler = () => new Promise<Response>((resolve) => (answer = resolve));
    const pending = measureRoute(handler, recorder)(context);
    assert.deepEqual(statuses, []);
    answer(new Response("queued", { status: 202 }));
    assert.equal((await pending).status, 202);
    assert.deepEqual(statuses, [202]);
  });

  test("records a handler that throws or rejects as a 500 and lets the error through to the server", async () => {
    const { statuses, recorder } = recorded();
    assert.throws(() => measureRoute(() => { throw new Error("sync boom"); }, recorder)(context), { message: "sync boom" });
    await assert.rejects(async () => measureRoute(() => Promise.reject(new Error("async boom")), recorder)(context), { message: "async boom" });
    assert.deepEqual(statuses, [500, 500]);
  });
});
