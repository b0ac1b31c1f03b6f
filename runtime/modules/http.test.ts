import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { http } from "./http.ts";
import { runInContext, type CallContext, type HttpExchange, type HttpRequestData } from "./context.ts";
import { createLogger } from "../logger.ts";
import { TaskrtError } from "../errors.ts";
import type { RuntimeServices } from "../contracts/runtime-services.ts";

const services = {} as RuntimeServices;
const logger = createLogger({ level: "error" });

function exchange(request: Partial<HttpRequestData> = {}): HttpExchange {
  const url = request.url ?? new URL("http://localhost/tasks/1?tag=a&tag=b&limit=5");
  return {
    request: {
      method: "POST",
      path: url.pathname,
      url,
      params: { id: "1" },
      headers: new Headers({ "Content-Type": "application/json", "X-Trace-Id": "abc" }),
      body: undefined,
      remoteAddr: "127.0.0.1:5000",
      maxJsonDepth: 128,
      bodyCheckedAsJson: false,
      ...request,
    },
    response: { status: 200, headers: {}, chunks: [], handled: false },
  };
}

function inHandler<T>(fn: () => T, options: { http?: HttpExchange; modules?: string[] } = {}): T {
  const context: CallContext = { entryId: "app:handler", modules: new Set(options.modules ?? ["http"]), services, logger, http: options.http };
  return runInContext(context, fn);
}

function rejectsWith(code: string, message: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof TaskrtError, `expected a TaskrtError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.message, message);
    return true;
  };
}

describe("http module outside an endpoint", () => {
  test("http.request() in a handler that no endpoint called throws E_NO_HTTP_CONTEXT", () => {
    assert.throws(
      () => inHandler(() => http.request()),
      rejectsWith("E_NO_HTTP_CONTEXT", "no HTTP request: http.request() works only inside an http.endpoint's handler"),
    );
    assert.throws(
      () => inHandler(() => http.response()),
      rejectsWith("E_NO_HTTP_CONTEXT", "no HTTP request: http.response() works only inside an http.endpoint's handler"),
    );
  });

  test("an entry that did not declare http cannot use it", () => {
    assert.throws(
      () => inHandler(() => http.request(), { http: exchange(), modules: ["sql"] }),
      rejectsWith("E_MODULE_NOT_DECLARED", "entry app:handler used module 'http' but does not declare it"),
    );
  });
});

describe("http.request()", () => {
  test("reads method, path, params, query, headers case-insensitively and the peer address", () => {
    const view = inHandler(() => http.request(), { http: exchange() });
    assert.equal(view.method(), "POST");
    assert.equal(view.path(), "/tasks/1");
    assert.equal(view.param("id"), "1");
    assert.equal(view.param("missing"), undefined);
    assert.deepEqual(view.params(), { id: "1" });
    assert.equal(view.query("tag"), "a");
    assert.equal(view.query("missing"), undefined);
    assert.deepEqual(view.queryParams(), { tag: "a,b", limit: "5" });
    assert.equal(view.header("x-trace-id"), "abc");
    assert.equal(view.header("X-TRACE-ID"), "abc");
    assert.equal(view.header("missing"), undefined);
    assert.deepEqual(view.headers(), { "content-type": "application/json", "x-trace-id": "abc" });
    assert.equal(view.contentType(), "application/json");
    assert.equal(view.remoteAddr(), "127.0.0.1:5000");
  });

  test("returns one view per exchange", () => {
    const shared = exchange();
    assert.equal(
      inHandler(() => http.request(), { http: shared }),
      inHandler(() => http.request(), { http: shared }),
    );
  });

  test("decodes a JSON body, and reads it as text any number of times", async () => {
    const view = inHandler(() => http.request(), { http: exchange({ body: Buffer.from('{"action":"run","n":1}') }) });
    assert.equal(view.hasBody(), true);
    assert.deepEqual(await view.bodyJson(), { action: "run", n: 1 });
    assert.equal(await view.body(), '{"action":"run","n":1}');
    assert.equal(await view.body(), '{"action":"run","n":1}');
  });

  test("bodyJson on invalid JSON throws E_INVALID_JSON with the parser's reason", async () => {
    const view = inHandler(() => http.request(), { http: exchange({ body: new TextEncoder().encode("{oops") }) });
    let reason = "";
    try {
      JSON.parse("{oops");
    } catch (error) {
      reason = (error as Error).message;
    }
    await assert.rejects(view.bodyJson(), rejectsWith("E_INVALID_JSON", `request body is not valid JSON: ${reason}`));
  });

  test("bodyJson without a body throws E_NO_BODY; body() gives an empty string", async () => {
    const view = inHandler(() => http.request(), { http: exchange() });
    assert.equal(view.hasBody(), false);
    await assert.rejects(view.bodyJson(), rejectsWith("E_NO_BODY", "request has no body"));
    assert.equal(await view.body(), "");
  });
});

describe("http.response()", () => {
  test("records status, lower-cased headers and chunks, and marks the response handled", () => {
    const shared = exchange();
    inHandler(() => http.response().setStatus(http.STATUS.CREATED).setHeader("X-Request-Id", 7).write("a").write(new Uint8Array([98])), { http: shared });
    assert.deepEqual(shared.response, { status: 201, headers: { "x-request-id": "7" }, chunks: ["a", new Uint8Array([98])], handled: true });
  });

  test("writeJson sets application/json unless a content type was set", () => {
    const plain = exchange();
    inHandler(() => http.response().writeJson({ ok: true }), { http: plain });
    assert.deepEqual(plain.response.headers, { "content-type": "application/json" });
    assert.deepEqual(plain.response.chunks, ['{"ok":true}']);
    const custom = exchange();
    inHandler(() => http.response().setContentType("application/problem+json").writeJson(null), { http: custom });
    assert.deepEqual(custom.response.headers, { "content-type": "application/problem+json" });
    assert.deepEqual(custom.response.chunks, ["null"]);
  });

  test("a later header with another case replaces the earlier one", () => {
    const shared = exchange();
    inHandler(() => http.response().setHeader("content-type", "text/html").setContentType("text/csv"), { http: shared });
    assert.deepEqual(shared.response.headers, { "content-type": "text/csv" });
  });

  test("refuses a status outside 100–599", () => {
    const view = inHandler(() => http.response(), { http: exchange() });
    assert.throws(() => view.setStatus(42), rejectsWith("E_INVALID_STATUS", "invalid HTTP status 42: expected an integer from 100 to 599"));
    assert.throws(() => view.setStatus(200.5), rejectsWith("E_INVALID_STATUS", "invalid HTTP status 200.5: expected an integer from 100 to 599"));
  });

  test("refuses header names that are not tokens and values with line breaks", () => {
    const view = inHandler(() => http.response(), { http: exchange() });
    assert.throws(() => view.setHeader("bad name", "x"), rejectsWith("E_INVALID_HEADER", 'invalid header name "bad name"'));
    assert.throws(() => view.setHeader("x-a", "1\r\nSet-Cookie: y"), rejectsWith("E_INVALID_HEADER", "invalid value for header x-a: it contains a line break or NUL"));
  });

  test("refuses to write an object, and to encode a value JSON cannot hold", () => {
    const view = inHandler(() => http.response(), { http: exchange() });
    assert.throws(() => view.write({} as unknown as string), rejectsWith("E_INVALID_BODY", "response.write expects a string or bytes, got object"));
    assert.throws(() => view.writeJson({ big: 1n }), rejectsWith("E_JSON_ENCODE", "cannot encode the response as JSON: Do not know how to serialize a BigInt"));
  });

  test("offers Wippy's status and content constants", () => {
    assert.equal(http.STATUS.ACCEPTED, 202);
    assert.equal(http.STATUS.UNPROCESSABLE, 422);
    assert.equal(http.STATUS.INTERNAL_ERROR, 500);
    assert.equal(http.STATUS.INTERNAL_SERVER_ERROR, 500);
    assert.equal(http.CONTENT.JSON, "application/json");
    assert.equal(http.CONTENT.TEXT, "text/plain");
  });
});
