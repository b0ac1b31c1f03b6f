import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { callLua, createTestEngine, fakeExchange, responseText, testContext } from "../test-support.ts";

const source = `local http = require("http")
return {
  accept = function()
    local req = http.request()
    local res = http.response()
    local body, err = req:body_json()
    if err then
      res:set_status(http.STATUS.BAD_REQUEST)
      res:write_json({ error = "invalid JSON", kind = err:kind(), message = err:message() })
      return
    end
    res:set_status(http.STATUS.ACCEPTED)
    res:write_json({ id = "t-1", action = body.action, n = body.data.n })
  end,
  describe = function()
    local req = http.request()
    return {
      method = req:method(), path = req:path(), status = req:query("status"), missing = req:query("missing"),
      query = req:query_params(), header = req:header("x-trace"), header_case = req:header("X-TRACE"),
      content_type = req:content_type(), remote = req:remote_addr(), has_body = req:has_body(),
      param = req:param("id"), params = req:params(), host = req:host(), length = req:content_length(),
      headers = req:headers()["x-trace"],
    }
  end,
  body = function() return http.request():body() end,
  constants = function()
    return { http.STATUS.INTERNAL_ERROR, http.STATUS.INTERNAL_SERVER_ERROR, http.STATUS.OK, http.STATUS.NOT_FOUND,
      http.CONTENT.JSON, http.CONTENT.TEXT, http.METHOD.POST }
  end,
  empty = function() http.response():write_json({}) end,
  text = function()
    local res = http.response()
    res:set_content_type(http.CONTENT.TEXT)
    res:set_header("X-Count", "2")
    res:write("hello ")
    res:write(42)
  end,
  bad_status = function()
    local err = http.response():set_status(999)
    return { message = tostring(err), kind = err:kind() }
  end,
  outside = function()
    local req, err = http.request()
    return { req = req == nil, message = err:message(), kind = err:kind() }
  end,
}`;

async function call(method: string, exchange = fakeExchange()) {
  const engine = await createTestEngine(source, { modules: ["http"] });
  try {
    return { result: await callLua(engine, method, [], testContext({ modules: ["http"], http: exchange })), exchange };
  } finally {
    engine.close();
  }
}

describe("lua http module", () => {
  test("req:body_json() reads the body; res:set_status and res:write_json answer", async () => {
    const { result, exchange } = await call("accept", fakeExchange({ method: "POST", body: '{"action":"sum","data":{"n":2}}' }));
    assert.deepEqual(result, { value: undefined });
    assert.equal(exchange.response.status, 202);
    assert.equal(exchange.response.headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(responseText(exchange)), { id: "t-1", action: "sum", n: 2 });
  });

  test("req:body_json() returns nil, err of kind INVALID for a body that is not JSON", async () => {
    const { exchange } = await call("accept", fakeExchange({ method: "POST", body: "{nope" }));
    assert.equal(exchange.response.status, 400);
    const body = JSON.parse(responseText(exchange));
    assert.equal(body.kind, "INVALID");
    assert.match(body.message, /^request body is not valid JSON: /);
  });

  test("req:body_json() returns nil, err for a request without a body", async () => {
    const { exchange } = await call("accept", fakeExchange({ method: "POST" }));
    assert.deepEqual(JSON.parse(responseText(exchange)), { error: "invalid JSON", kind: "INVALID", message: "request has no body" });
  });

  test("the request's parts are readable with colon methods", async () => {
    const exchange = fakeExchange({
      url: "http://example.test/tasks/7?status=done&status=new&page=2",
      params: { id: "7" },
      headers: { "X-Trace": "abc", host: "example.test", "content-type": "text/plain", "content-length": "5" },
      body: "hello",
    });
    const { result } = await call("describe", exchange);
    assert.deepEqual(result.value, {
      method: "GET",
      path: "/tasks/7",
      status: "done",
      query: { status: "done,new", page: "2" },
      header: "abc",
      header_case: "abc",
      content_type: "text/plain",
      remote: "127.0.0.1:50000",
      has_body: true,
      param: "7",
      params: { id: "7" },
      host: "example.test",
      length: 5,
      headers: "abc",
    });
    assert.deepEqual((await call("body", exchange)).result, { value: "hello" });
  });

  test("http.STATUS has both INTERNAL_ERROR and INTERNAL_SERVER_ERROR; CONTENT and METHOD are there", async () => {
    const { result } = await call("constants");
    assert.deepEqual(result.value, [500, 500, 200, 404, "application/json", "text/plain", "POST"]);
  });

  test("res:write_json({}) writes [] as Wippy does", async () => {
    const { exchange } = await call("empty");
    assert.equal(responseText(exchange), "[]");
  });

  test("res:write, res:set_header and res:set_content_type", async () => {
    const { exchange } = await call("text");
    assert.equal(responseText(exchange), "hello 42");
    assert.equal(exchange.response.headers["content-type"], "text/plain");
    assert.equal(exchange.response.headers["x-count"], "2");
  });

  test("a response method that fails returns only the error, as Wippy's do", async () => {
    const { result } = await call("bad_status");
    assert.deepEqual(result.value, { message: "invalid HTTP status 999: expected an integer from 100 to 599", kind: "INVALID" });
  });

  test("http.request() outside an endpoint call returns nil, err", async () => {
    const engine = await createTestEngine(source, { modules: ["http"] });
    try {
      const result = await callLua(engine, "outside", [], testContext({ modules: ["http"] }));
      assert.deepEqual(result.value, { req: true, message: "no HTTP request: http.request() works only inside an http.endpoint's handler", kind: "INTERNAL" });
    } finally {
      engine.close();
    }
  });
});
