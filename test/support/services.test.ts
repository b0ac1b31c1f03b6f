import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { isCi, probeTcp, requireService, serviceMessage, serviceSkip } from "./services.ts";

describe("test/support/services", () => {
  const server = net.createServer((socket) => socket.destroy());
  let openPort = 0;
  let closedPort = 0;

  before(async () => {
    const spare = net.createServer();
    await new Promise<void>((resolve) => spare.listen(0, "127.0.0.1", resolve));
    closedPort = (spare.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => spare.close(() => resolve()));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    openPort = (server.address() as net.AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test("probeTcp tells a listening port from a closed one", async () => {
    assert.equal(await probeTcp("127.0.0.1", openPort), true);
    assert.equal(await probeTcp("127.0.0.1", closedPort), false);
  });

  test("CI counts as set for CI=true or CI=1 only", () => {
    assert.equal(isCi({ CI: "true" }), true);
    assert.equal(isCi({ CI: "1" }), true);
    assert.equal(isCi({ CI: "false" }), false);
    assert.equal(isCi({}), false);
  });

  test("a service that answers is required and never skipped", async () => {
    assert.equal(await requireService("postgres", "127.0.0.1", openPort, { CI: "true" }), true);
    assert.equal(await serviceSkip("postgres", "127.0.0.1", openPort, {}), false);
  });

  test("a service that does not answer is skipped with a message outside CI", async () => {
    assert.equal(await requireService("postgres", "127.0.0.1", closedPort, {}), false);
    assert.equal(
      await serviceSkip("postgres", "127.0.0.1", closedPort, {}),
      `postgres is not answering on 127.0.0.1:${closedPort}: skipped (start it, or set CI=true to make this a failure)`,
    );
  });

  test("under CI a service that does not answer is a failure with a clear message", async () => {
    const message = `postgres is not answering on 127.0.0.1:${closedPort} (CI requires it)`;
    await assert.rejects(requireService("postgres", "127.0.0.1", closedPort, { CI: "true" }), { message });
    await assert.rejects(serviceSkip("postgres", "127.0.0.1", closedPort, { CI: "true" }), { message });
    assert.equal(serviceMessage("postgres", "127.0.0.1", 5432, true), "postgres is not answering on 127.0.0.1:5432 (CI requires it)");
  });
});
