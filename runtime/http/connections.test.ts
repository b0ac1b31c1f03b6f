import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { http } from "../modules/http.ts";
import { fileLimitWarning } from "./connections.ts";
import { startTestServer, type TestServer } from "../../test/support/http.ts";

/** A raw connection to the server that sends nothing; resolves `closed` with the ms it stayed open. */
function silentSocket(port: number): { socket: Socket; connected: Promise<void>; closed: Promise<number> } {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  const start = Date.now();
  const connected = once(socket, "connect").then(() => undefined);
  const closed = once(socket, "close").then(() => Date.now() - start);
  return { socket, connected, closed };
}

/** `promise`, or a rejection naming `what` if it has not settled within `ms` (a test's generous deadline). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function withServer(service: Record<string, unknown>, handler: () => unknown, body: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startTestServer([{ method: "GET", path: "/tasks", handler }], { service });
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

const answer = (): void => void http.response().write("served");

describe("http.service connections", () => {
  test("closes connections that never send a byte after the read timeout, while serving a normal client", async () => {
    await withServer({ timeouts: { read: "300ms" } }, answer, async ({ server, url }) => {
      const silent = Array.from({ length: 5 }, () => silentSocket(server.address().port));
      await Promise.all(silent.map((each) => each.connected));
      const response = await fetch(`${url}/tasks`);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "served");
      const openFor = await within(Promise.all(silent.map((each) => each.closed)), 20_000, "silent connections not closed");
      // Never before the read timeout; the upper side is read + one check, stretched only by load.
      for (const ms of openFor) assert.ok(ms >= 300, `closed after ${ms} ms, before the read timeout`);
    });
  });

  test("does not close a connection whose first request is still being handled past the read timeout", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const slow = async (): Promise<void> => {
      await released;
      http.response().write("late but served");
    };
    await withServer({ timeouts: { read: "200ms", write: "30s" } }, slow, async ({ server, url }) => {
      const pending = fetch(`${url}/tasks`);
      // A silent socket opened alongside marks the moment the first-request timer has passed.
      const silent = silentSocket(server.address().port);
      await within(silent.closed, 20_000, "silent connection not closed");
      release();
      const response = await pending;
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "late but served");
    });
  });

  test("still answers a malformed request with Node's 400 and a stalled one with its 408", async () => {
    await withServer({ timeouts: { read: "300ms" } }, answer, async ({ server }) => {
      const exchange = async (text: string): Promise<string> => {
        const socket = connect(server.address().port, "127.0.0.1");
        let received = "";
        socket.on("data", (chunk) => (received += chunk));
        socket.write(text);
        await within(once(socket, "close"), 20_000, "connection not closed");
        return received;
      };
      assert.equal(await exchange("NOT HTTP AT ALL\r\n\r\n"), "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      assert.equal(await exchange("GET /tasks HTTP/1.1\r\nHost: te"), "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n");
    });
  });

  test("refuses connections past max_connections with one warning per burst, and serves again once some close", async () => {
    await withServer({ max_connections: 3, timeouts: { read: "0" } }, answer, async ({ server, url, logs }) => {
      const port = server.address().port;
      const held = [silentSocket(port), silentSocket(port), silentSocket(port)];
      await Promise.all(held.map((each) => each.connected));
      // Accepted in order: once a later socket is closed by the server, the first three are counted.
      const refused = Array.from({ length: 4 }, () => silentSocket(port));
      await within(Promise.all(refused.map((each) => each.closed)), 20_000, "connections past max_connections not refused");
      const warnings = logs.filter((line) => line.level === "warn");
      assert.deepEqual(
        warnings.map((line) => [line.entry, line.msg]),
        [["app:gateway", "app:gateway refuses new connections: max_connections (3) are open"]],
      );
      for (const each of held) each.socket.destroy();
      // The server counts a connection gone when it sees the close: poll until a client gets in.
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          const response = await fetch(`${url}/tasks`);
          assert.equal(await response.text(), "served");
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
        }
      }
    });
  });
});

describe("max_connections and the open-file limit", () => {
  test("warns when max_connections cannot be reached before the open-file limit, and only then", () => {
    assert.equal(fileLimitWarning(255, 256), undefined);
    assert.equal(fileLimitWarning(1000, undefined), undefined);
    assert.equal(
      fileLimitWarning(1000, 256),
      "max_connections (1000) is not below the open-file limit (256): once files run out, new clients are reset without a log line; set max_connections below ulimit -n, leaving room for databases and files",
    );
    assert.equal(
      fileLimitWarning(0, 4096),
      "max_connections is 0 (no cap) under an open-file limit of 4096: once files run out, new clients are reset without a log line; set max_connections below ulimit -n, leaving room for databases and files",
    );
  });

  test("a server started under ulimit -n 256 logs that max_connections 1000 is not below it", { skip: existsSync("/proc/self/limits") ? false : "the open-file limit is read from Linux's /proc" }, () => {
    const script = [
      'import { limitConnections } from "./runtime/http/connections.ts";',
      'import { createServer } from "node:http";',
      "const logger = { warn: (message) => console.log(message) };",
      'limitConnections(createServer(), { entryId: "app:gateway", maxConnections: 1000 }, logger);',
    ].join("\n");
    const output = execFileSync("bash", ["-c", 'ulimit -n 256 && exec node --import tsx --input-type=module -e "$0"', script], { encoding: "utf8", cwd: fileURLToPath(new URL("../..", import.meta.url)) });
    assert.equal(
      output,
      "app:gateway: max_connections (1000) is not below the open-file limit (256): once files run out, new clients are reset without a log line; set max_connections below ulimit -n, leaving room for databases and files\n",
    );
  });
});
