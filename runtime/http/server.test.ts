import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createServer, request as httpRequest, type Server } from "node:http";
import { once } from "node:events";
import { connect } from "node:net";
import { http } from "../modules/http.ts";
import { captureLogger } from "../../test/support/logs.ts";
import { createComponents, registryOf, STAND_IN_MODULE } from "../../test/support/registry.ts";
import { fakeFunction, startTestServer, type TestServer } from "../../test/support/http.ts";
import type { HttpServer } from "./server.ts";
import type { CallableComponent } from "../handlers/handler.ts";
import { TaskrtError } from "../errors.ts";

async function withServer(
  routes: Parameters<typeof startTestServer>[0],
  options: Parameters<typeof startTestServer>[1],
  body: (server: TestServer) => Promise<void>,
): Promise<void> {
  const server = await startTestServer(routes, options);
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/** Sends a chunked body (no Content-Length) in pieces, resolving with status and body text. */
function postChunked(url: string, chunks: string[]): Promise<{ status: number; body: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: "POST", headers: { "transfer-encoding": "chunked" } }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text, connection: response.headers.connection }));
    });
    // The server may close the connection after its 413 while chunks are still going out.
    request.on("error", (error) => (request.writableEnded ? undefined : reject(error)));
    for (const chunk of chunks) request.write(chunk);
    request.end();
  });
}

describe("http.service routing", () => {
  test("serves an endpoint at router prefix + path, with {id} and :id parameters", async () => {
    await withServer(
      [
        { method: "GET", path: "/tasks/{id}", handler: () => void http.response().writeJson({ task: http.request().param("id") }) },
        { method: "get", path: "/items/:item/parts/{part}", handler: () => void http.response().writeJson(http.request().params()) },
      ],
      { prefix: "/api/" },
      async ({ url }) => {
        const task = await fetch(`${url}/api/tasks/42`);
        assert.equal(task.status, 200);
        assert.deepEqual(await task.json(), { task: "42" });
        const part = await fetch(`${url}/api/items/a/parts/b`);
        assert.deepEqual(await part.json(), { item: "a", part: "b" });
      },
    );
  });

  test("answers an unknown path with 404 and a JSON error", async () => {
    await withServer([{ method: "GET", path: "/tasks", handler: () => void http.response().write("x") }], {}, async ({ url }) => {
      const response = await fetch(`${url}/nothing`);
      assert.equal(response.status, 404);
      assert.equal(response.headers.get("content-type"), "application/json");
      assert.deepEqual(await response.json(), { error: "not found" });
    });
  });

  test("answers a known path with another method with 405 and an Allow header", async () => {
    const routes = [
      { method: "GET", path: "/tasks", handler: () => void http.response().write("list") },
      { method: "POST", path: "/tasks", handler: () => void http.response().write("create") },
      { method: "DELETE", path: "/tasks/{id}", handler: () => void http.response().write("delete") },
    ];
    await withServer(routes, {}, async ({ url }) => {
      const response = await fetch(`${url}/tasks`, { method: "PUT" });
      assert.equal(response.status, 405);
      assert.equal(response.headers.get("allow"), "GET, HEAD, POST, OPTIONS");
      assert.deepEqual(await response.json(), { error: "method not allowed" });
      const item = await fetch(`${url}/tasks/7`, { method: "GET" });
      assert.equal(item.status, 405);
      assert.equal(item.headers.get("allow"), "DELETE, OPTIONS");
      await item.body?.cancel();
    });
  });

  test("answers OPTIONS on a known path with 204 and the allowed methods", async () => {
    await withServer([{ method: "POST", path: "/tasks", handler: () => void http.response().write("x") }], {}, async ({ url }) => {
      const response = await fetch(`${url}/tasks`, { method: "OPTIONS" });
      assert.equal(response.status, 204);
      assert.equal(response.headers.get("allow"), "POST, OPTIONS");
      assert.equal(await response.text(), "");
    });
  });

  test("lets an endpoint declare its own OPTIONS route", async () => {
    const routes = [
      { method: "GET", path: "/tasks", handler: () => void http.response().write("x") },
      { method: "OPTIONS", path: "/tasks", handler: () => void http.response().setStatus(200).setHeader("x-custom", "yes") },
    ];
    await withServer(routes, {}, async ({ url }) => {
      const response = await fetch(`${url}/tasks`, { method: "OPTIONS" });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("x-custom"), "yes");
    });
  });

  test("answers HEAD on a GET route without a body", async () => {
    await withServer([{ method: "GET", path: "/tasks", handler: () => void http.response().write("hello") }], {}, async ({ url }) => {
      const response = await fetch(`${url}/tasks`, { method: "HEAD" });
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "");
    });
  });
});

describe("http.service request bodies", () => {
  test("refuses a body over max_body by its Content-Length with 413, without calling the handler", async () => {
    let calls = 0;
    const handler = (): void => {
      calls++;
      http.response().write("called");
    };
    await withServer([{ method: "POST", path: "/tasks", handler }], { service: { max_body: 16 } }, async ({ url }) => {
      const response = await fetch(`${url}/tasks`, { method: "POST", body: "x".repeat(17) });
      assert.equal(response.status, 413);
      assert.equal(response.headers.get("content-type"), "application/json");
      assert.deepEqual(await response.json(), { error: "request body too large (limit 16 bytes)" });
      assert.equal(calls, 0);
      const fits = await fetch(`${url}/tasks`, { method: "POST", body: "x".repeat(16) });
      assert.equal(await fits.text(), "called");
    });
  });

  test("refuses a chunked body once the bytes received pass max_body, and closes the connection", async () => {
    let calls = 0;
    const handler = (): void => {
      calls++;
      http.response().write("called");
    };
    await withServer([{ method: "POST", path: "/tasks", handler }], { service: { max_body: 1024 } }, async ({ url }) => {
      const response = await postChunked(`${url}/tasks`, ["a".repeat(600), "b".repeat(600)]);
      assert.equal(response.status, 413);
      assert.deepEqual(JSON.parse(response.body), { error: "request body too large (limit 1024 bytes)" });
      assert.equal(response.connection, "close");
      assert.equal(calls, 0);
    });
  });

  test("answers 408 and closes when the body does not arrive within the read timeout, without calling the handler", async () => {
    let calls = 0;
    const handler = (): void => {
      calls++;
      http.response().write("called");
    };
    await withServer([{ method: "POST", path: "/tasks", handler }], { service: { timeouts: { read: "100ms" } } }, async ({ server, logs }) => {
      const socket = connect(server.address().port, "127.0.0.1");
      let received = "";
      socket.on("data", (chunk) => (received += chunk));
      socket.write("POST /tasks HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc");
      await once(socket, "close");
      assert.equal(received, "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n");
      assert.equal(calls, 0);
      assert.equal(
        logs.find((entry) => entry.level === "debug")?.msg,
        "request body could not be read: the connection closed before the whole body arrived",
      );
    });
  });

  test("refuses a JSON body nested past max_json_depth with 400 naming the limit, without calling the handler", async () => {
    let calls = 0;
    const handler = (): void => {
      calls++;
      http.response().write("called");
    };
    await withServer([{ method: "POST", path: "/tasks", handler }], { service: { max_json_depth: 32 } }, async ({ url }) => {
      const body = `{"action":"x","data":{"list":${"[".repeat(8000)}${"]".repeat(8000)}}}`;
      const response = await fetch(`${url}/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body });
      assert.equal(response.status, 400);
      assert.deepEqual(await response.json(), { error: "JSON in request body nested deeper than 32 levels (max_json_depth)" });
      const shallow = await fetch(`${url}/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: `{"data":${"[".repeat(31)}${"]".repeat(31)}}` });
      assert.equal(await shallow.text(), "called");
      assert.equal(calls, 1);
    });
  });

  test("refuses a JSON body with invalid UTF-8 with 400, and hands a binary body through untouched", async () => {
    const handler = (): void => void http.response().write(http.request().hasBody() ? "called" : "empty");
    await withServer([{ method: "POST", path: "/tasks", handler }], {}, async ({ url }) => {
      const invalid = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
      const refused = await fetch(`${url}/tasks`, { method: "POST", headers: { "content-type": "application/json; charset=utf-8" }, body: invalid });
      assert.equal(refused.status, 400);
      assert.deepEqual(await refused.json(), { error: "invalid UTF-8 in request body" });
      const binary = await fetch(`${url}/tasks`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: invalid });
      assert.equal(await binary.text(), "called");
    });
  });

  test("bodyJson refuses a body not sent as JSON that is nested too deep or not UTF-8, with E_INVALID_BODY", async () => {
    const handler = async (): Promise<void> => {
      try {
        await http.request().bodyJson();
        http.response().write("parsed");
      } catch (error) {
        http.response().setStatus(400).write(`${(error as TaskrtError).code}: ${(error as Error).message}`);
      }
    };
    await withServer([{ method: "POST", path: "/tasks", handler }], { service: { max_json_depth: 16 } }, async ({ url }) => {
      const deep = await fetch(`${url}/tasks`, { method: "POST", body: `{"a":${"[".repeat(16)}${"]".repeat(16)}}` });
      assert.equal(await deep.text(), "E_INVALID_BODY: JSON in request body nested deeper than 16 levels (max_json_depth)");
      const invalid = await fetch(`${url}/tasks`, { method: "POST", body: Buffer.from([0x22, 0xc0, 0xaf, 0x22]) });
      assert.equal(await invalid.text(), "E_INVALID_BODY: invalid UTF-8 in request body");
      const fine = await fetch(`${url}/tasks`, { method: "POST", body: `{"a":${"[".repeat(15)}${"]".repeat(15)}}` });
      assert.equal(await fine.text(), "parsed");
    });
  });

  test("hands a chunked body within the limit to the handler whole", async () => {
    const handler = async (): Promise<void> => void http.response().write(`${(await http.request().body()).length}`);
    await withServer([{ method: "POST", path: "/tasks", handler }], { service: { max_body: 1024 } }, async ({ url }) => {
      const response = await postChunked(`${url}/tasks`, ["a".repeat(500), "b".repeat(500)]);
      assert.equal(response.status, 200);
      assert.equal(response.body, "1000");
    });
  });
});

describe("http.service responses", () => {
  test("answers a throwing handler with 500 {error: internal error}, logs it with the stack, and keeps serving", async () => {
    let fail = true;
    const handler = (): void => {
      if (fail) throw new Error("database exploded at /var/lib/secret.db");
      http.response().write("fine");
    };
    await withServer([{ method: "GET", path: "/tasks", handler }], {}, async ({ url, logs }) => {
      const response = await fetch(`${url}/tasks`);
      assert.equal(response.status, 500);
      assert.equal(response.headers.get("content-type"), "application/json");
      assert.deepEqual(await response.json(), { error: "internal error" });
      const line = logs.find((entry) => entry.level === "error");
      assert.ok(line);
      assert.equal(line.entry, "app:route0");
      assert.equal(line.msg, "app:func0 failed: database exploded at /var/lib/secret.db");
      assert.match(String(line.error), /^Error: database exploded at \/var\/lib\/secret\.db\n\s+at /);
      fail = false;
      const next = await fetch(`${url}/tasks`);
      assert.equal(next.status, 200);
      assert.equal(await next.text(), "fine");
    });
  });

  test("keeps what a handler wrote before it threw, as Wippy does", async () => {
    const handler = (): void => {
      http.response().setStatus(http.STATUS.CONFLICT).writeJson({ error: "duplicate" });
      throw new Error("late failure");
    };
    await withServer([{ method: "GET", path: "/tasks", handler }], {}, async ({ url, logs }) => {
      const response = await fetch(`${url}/tasks`);
      assert.equal(response.status, 409);
      assert.deepEqual(await response.json(), { error: "duplicate" });
      assert.equal(logs.find((entry) => entry.level === "error")?.msg, "app:func0 failed: late failure");
    });
  });

  test("answers 500 {error: internal error} when a handler set a status and a header but threw before writing a body", async () => {
    const handler = (): void => {
      http.response().setStatus(http.STATUS.OK).setHeader("x-partial", "yes");
      throw new Error("failed after setStatus");
    };
    await withServer([{ method: "GET", path: "/tasks", handler }], {}, async ({ url, logs }) => {
      const response = await fetch(`${url}/tasks`);
      assert.equal(response.status, 500);
      assert.equal(response.headers.get("x-partial"), null);
      assert.deepEqual(await response.json(), { error: "internal error" });
      assert.equal(logs.find((entry) => entry.level === "error")?.msg, "app:func0 failed: failed after setStatus");
    });
  });

  test("answers a handler that wrote nothing with 500 {error: no response sent}", async () => {
    await withServer([{ method: "GET", path: "/tasks", handler: () => undefined }], {}, async ({ url, logs }) => {
      const response = await fetch(`${url}/tasks`);
      assert.equal(response.status, 500);
      assert.deepEqual(await response.json(), { error: "no response sent" });
      assert.equal(logs.find((entry) => entry.level === "error")?.msg, "app:func0 returned without writing a response");
    });
  });

  test("labels writeJson output application/json even after setStatus", async () => {
    const handler = (): void => void http.response().setStatus(http.STATUS.ACCEPTED).writeJson({ id: "1", status: "queued" });
    await withServer([{ method: "POST", path: "/tasks", handler }], {}, async ({ url }) => {
      const response = await fetch(`${url}/tasks`, { method: "POST", body: "{}" });
      assert.equal(response.status, 202);
      assert.equal(response.headers.get("content-type"), "application/json");
      assert.equal(await response.text(), '{"id":"1","status":"queued"}');
    });
  });

  test("labels plain writes text/plain unless the handler set a content type, and joins chunks", async () => {
    const routes = [
      { method: "GET", path: "/text", handler: () => void http.response().write("a").write(new TextEncoder().encode("b")).write("c") },
      { method: "GET", path: "/csv", handler: () => void http.response().setContentType("text/csv").write("x,y") },
    ];
    await withServer(routes, {}, async ({ url }) => {
      const text = await fetch(`${url}/text`);
      assert.equal(text.headers.get("content-type"), "text/plain; charset=utf-8");
      assert.equal(await text.text(), "abc");
      const csv = await fetch(`${url}/csv`);
      assert.equal(csv.headers.get("content-type"), "text/csv");
      assert.equal(await csv.text(), "x,y");
    });
  });

  test("gives the handler headers, query, params, body and peer address", async () => {
    let seen: Record<string, unknown> = {};
    const handler = async (): Promise<void> => {
      const request = http.request();
      seen = {
        method: request.method(),
        path: request.path(),
        id: request.param("id"),
        header: request.header("X-Trace-ID"),
        contentType: request.contentType(),
        first: request.query("tag"),
        query: request.queryParams(),
        hasBody: request.hasBody(),
        body: await request.bodyJson(),
        remote: request.remoteAddr(),
      };
      http.response().setStatus(http.STATUS.NO_CONTENT);
    };
    await withServer([{ method: "PUT", path: "/tasks/{id}", handler }], {}, async ({ url }) => {
      const response = await fetch(`${url}/tasks/9?tag=a&tag=b&limit=5`, {
        method: "PUT",
        headers: { "x-trace-id": "t-1", "content-type": "application/json" },
        body: JSON.stringify({ action: "run" }),
      });
      assert.equal(response.status, 204);
      assert.match(String(seen.remote), /^127\.0\.0\.1:\d+$/);
      delete seen.remote;
      assert.deepEqual(seen, {
        method: "PUT",
        path: "/tasks/9",
        id: "9",
        header: "t-1",
        contentType: "application/json",
        first: "a",
        query: { tag: "a,b", limit: "5" },
        hasBody: true,
        body: { action: "run" },
      });
    });
  });

  test("answers 503 when the handler outlives the write timeout", async () => {
    const release = deferred();
    await withServer(
      [{ method: "GET", path: "/slow", handler: () => release.promise.then(() => void http.response().write("late")) }],
      { service: { timeouts: { write: "40ms" } } },
      async ({ url, logs }) => {
        const response = await fetch(`${url}/slow`);
        assert.equal(response.status, 503);
        assert.deepEqual(await response.json(), { error: "response not ready within the write timeout" });
        assert.equal(logs.find((entry) => entry.level === "warn")?.msg, "app:func0 did not finish within the write timeout (40ms); answered 503");
        release.resolve();
      },
    );
  });
});

/** A gateway, a router and an endpoint `GET /tasks` whose function `app:list` is `functionComponent`; not started. */
async function buildServer(functionComponent: CallableComponent, service: Record<string, unknown> = {}) {
  const { logger, lines } = captureLogger();
  const registry = await registryOf(
    [
      { name: "gateway", kind: "http.service", addr: "127.0.0.1:0", ...service },
      { name: "api", kind: "http.router", meta: { server: "gateway" } },
      { name: "list", kind: "function.ts", source: "file://handler.mjs", method: "handle" },
      { name: "tasks", kind: "http.endpoint", meta: { router: "api" }, method: "GET", path: "/tasks", func: "app:list" },
    ],
    { files: STAND_IN_MODULE },
  );
  const components = createComponents(registry, logger, { standIns: { "app:list": functionComponent } });
  return { server: components.get("app:gateway") as HttpServer, logs: lines };
}

describe("http.service lifecycle", () => {
  test("describes itself with the real port while listening, and nothing once stopped", async () => {
    const { server } = await buildServer(fakeFunction("app:list", () => void http.response().write("x")));
    assert.equal(server.describe(), undefined);
    await server.start();
    const { port } = server.address();
    assert.ok(port > 0);
    assert.equal(server.describe(), `listening on http://127.0.0.1:${port}`);
    await server.stop();
    assert.equal(server.describe(), undefined);
  });

  test("says it listens on every interface for an addr without a host", async () => {
    const { server } = await buildServer(fakeFunction("app:list", () => void http.response().write("x")), { addr: ":0" });
    await server.start();
    try {
      assert.equal(server.describe(), `listening on http://127.0.0.1:${server.address().port} (all interfaces)`);
      const response = await fetch(`http://127.0.0.1:${server.address().port}/tasks`);
      assert.equal(await response.text(), "x");
    } finally {
      await server.stop();
    }
  });

  test("fails to start with E_LISTEN naming the entry and addr when the port is taken", async () => {
    const blocker: Server = createServer();
    blocker.listen(0, "127.0.0.1");
    await once(blocker, "listening");
    const port = (blocker.address() as { port: number }).port;
    try {
      const { server } = await buildServer(fakeFunction("app:list", () => undefined), { addr: `127.0.0.1:${port}` });
      await assert.rejects(server.start(), (error: unknown) => {
        assert.ok(error instanceof TaskrtError);
        assert.equal(error.code, "E_LISTEN");
        assert.equal(error.message, `app:gateway cannot listen on 127.0.0.1:${port}: address already in use`);
        assert.equal(error.hint, `another process or http.service already listens on port ${port}; stop it or choose another port in addr`);
        return true;
      });
      assert.equal(server.describe(), undefined);
    } finally {
      blocker.close();
    }
  });

  test("answers 500 and logs when the function cannot give its callable (not started)", async () => {
    const notStarted: CallableComponent = {
      callable() {
        throw new TaskrtError("E_NOT_STARTED", "app:list was called before its code was loaded");
      },
    };
    const { server, logs } = await buildServer(notStarted);
    await server.start();
    try {
      const response = await fetch(`http://127.0.0.1:${server.address().port}/tasks`);
      assert.equal(response.status, 500);
      assert.deepEqual(await response.json(), { error: "internal error" });
      assert.equal(logs.find((entry) => entry.level === "error")?.msg, "app:list failed: app:list was called before its code was loaded");
    } finally {
      await server.stop();
    }
  });

  test("stop waits for an in-flight request to finish, then refuses new connections", async () => {
    const entered = deferred();
    const release = deferred();
    const handler = async (): Promise<void> => {
      entered.resolve();
      await release.promise;
      http.response().write("finished");
    };
    const { server } = await buildServer(fakeFunction("app:list", handler));
    await server.start();
    const url = `http://127.0.0.1:${server.address().port}/tasks`;
    const pending = fetch(url);
    await entered.promise;
    let stopped = false;
    const stopping = server.stop().then(() => (stopped = true));
    // Give the stop every chance to (wrongly) finish while the handler is still held.
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stopped, false);
    release.resolve();
    const response = await pending;
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("connection"), "close");
    assert.equal(await response.text(), "finished");
    await stopping;
    await assert.rejects(fetch(url));
  });

  test("stop gives up on a request still running after stop_timeout and closes its connection", async () => {
    const entered = deferred();
    const { server, logs } = await buildServer(
      fakeFunction("app:list", async () => {
        entered.resolve();
        await new Promise(() => undefined);
      }),
      { lifecycle: { stop_timeout: "30ms" } },
    );
    await server.start();
    const pending = fetch(`http://127.0.0.1:${server.address().port}/tasks`);
    await entered.promise;
    await server.stop();
    await assert.rejects(pending);
    assert.equal(logs.find((entry) => entry.level === "warn")?.msg, "1 request(s) still running after stop_timeout 30ms; closing their connections");
  });

  test("serves again after a stop and a new start", async () => {
    const { server } = await buildServer(fakeFunction("app:list", () => void http.response().write("again")));
    await server.start();
    await server.stop();
    await server.start();
    try {
      const response = await fetch(`http://127.0.0.1:${server.address().port}/tasks`);
      assert.equal(await response.text(), "again");
    } finally {
      await server.stop();
    }
  });
});
