import { test } from "node:test";
import assert from "node:assert/strict";
import { TaskrtError } from "../errors.ts";
import { captureLogger, createComponents, makeEntry, makeRegistry } from "../http/test-helpers.ts";

test("a router whose meta.server is not an http.service fails to build with E_REF_KIND", () => {
  const registry = makeRegistry([makeEntry("app:api", "http.router", {}, { meta: { server: "db" } })]);
  assert.throws(
    () => createComponents(registry, { "app:db": {} }, captureLogger().logger),
    (error: unknown) => {
      assert.ok(error instanceof TaskrtError);
      assert.equal(error.code, "E_REF_KIND");
      assert.equal(error.message, "app:api: meta.server app:db is not an http.service");
      return true;
    },
  );
});

test("a router attaches to its server and describes its prefix", () => {
  const registry = makeRegistry([
    makeEntry("app:gateway", "http.service", { addr: "127.0.0.1:0" }),
    makeEntry("app:api", "http.router", {}, { meta: { server: "gateway" } }),
  ]);
  const router = createComponents(registry, {}, captureLogger().logger).get("app:api");
  assert.equal(router?.describe?.(), "0 endpoints under /");
});

test("a router warns that the middleware it lists is not applied", () => {
  const registry = makeRegistry([
    makeEntry("app:gateway", "http.service", { addr: "127.0.0.1:0" }),
    makeEntry("app:api", "http.router", { middleware: ["cors", "token_auth"] }, { meta: { server: "gateway" } }),
  ]);
  const { logger, lines } = captureLogger();
  createComponents(registry, {}, logger);
  assert.deepEqual(
    lines.map((line) => [line.level, line.entry, line.msg]),
    [["warn", "app:api", "middleware is not supported yet and is ignored: cors, token_auth"]],
  );
});
