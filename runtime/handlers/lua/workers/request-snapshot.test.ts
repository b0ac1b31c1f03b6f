import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { HttpExchange } from "../../../modules/context.ts";
import { exchangeFromSnapshot, snapshotOf } from "./request-snapshot.ts";

function exchange(request: Partial<HttpExchange["request"]>): HttpExchange {
  return {
    request: {
      method: "POST",
      path: "/tasks/7",
      url: new URL("http://localhost/tasks/7?page=2&page=3"),
      params: { id: "7" },
      headers: new Headers({ "content-type": "application/json" }),
      body: undefined,
      remoteAddr: "127.0.0.1:5000",
      maxJsonDepth: 64,
      bodyCheckedAsJson: true,
      ...request,
    },
    response: { status: 200, headers: {}, chunks: [], handled: false },
  };
}

/** What a worker receives: the snapshot after a structured clone, as postMessage makes it. */
function acrossThreads(source: HttpExchange): HttpExchange {
  return exchangeFromSnapshot(structuredClone(snapshotOf(source)));
}

describe("a request copied to a Lua worker", () => {
  test("reads as it did on the main thread: method, path, params, URL and query, peer, JSON checks", () => {
    const { request } = acrossThreads(exchange({}));
    assert.equal(request.method, "POST");
    assert.equal(request.path, "/tasks/7");
    assert.deepEqual(request.params, { id: "7" });
    assert.equal(request.url.href, "http://localhost/tasks/7?page=2&page=3");
    assert.deepEqual(request.url.searchParams.getAll("page"), ["2", "3"]);
    assert.equal(request.remoteAddr, "127.0.0.1:5000");
    assert.equal(request.maxJsonDepth, 64);
    assert.equal(request.bodyCheckedAsJson, true);
  });

  test("keeps headers as received: any case, repeated ones joined, HTTP/2 pseudo-headers left out", () => {
    const rawHeaders = ["Content-Type", "application/json", "X-Tag", "a", "x-tag", "b", ":path", "/tasks/7"];
    const { request } = acrossThreads(exchange({ rawHeaders, href: "http://localhost/tasks/7" }));
    assert.equal(request.headers.get("content-type"), "application/json");
    assert.equal(request.headers.get("X-TAG"), "a, b");
    assert.deepEqual([...request.headers.keys()], ["content-type", "x-tag"]);
  });

  test("uses the server's Headers when it has no raw list", () => {
    const { request } = acrossThreads(exchange({ headers: new Headers([["accept", "text/plain"]]) }));
    assert.equal(request.headers.get("accept"), "text/plain");
  });

  test("carries a body's own bytes, not the larger buffer it is a view into", () => {
    const pooled = new Uint8Array(8192);
    const text = new TextEncoder().encode('{"action":"a"}');
    pooled.set(text, 100);
    const snapshot = snapshotOf(exchange({ body: pooled.subarray(100, 100 + text.length) }));
    assert.equal(snapshot.body!.buffer.byteLength, text.length);
    assert.equal(new TextDecoder().decode(exchangeFromSnapshot(structuredClone(snapshot)).request.body), '{"action":"a"}');
  });

  test("the response so far travels with the request, for the worker's http module to write on", () => {
    const worker = acrossThreads(exchange({}));
    worker.response.status = 202;
    worker.response.chunks.push("{}");
    assert.deepEqual(worker.response, { status: 202, headers: {}, chunks: ["{}"], handled: false });
  });
});
