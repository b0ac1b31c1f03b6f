import { test } from "node:test";
import assert from "node:assert/strict";
import { TaskrtError } from "../errors.ts";
import { captureLogger, createComponents, fakeFunction, makeEntry, makeRegistry } from "../http/test-helpers.ts";
import type { HttpRouter } from "../http/router.ts";

function registry(func: string) {
  return makeRegistry([
    makeEntry("app:gateway", "http.service", { addr: "127.0.0.1:0" }),
    makeEntry("app:api", "http.router", { prefix: "/api" }, { meta: { server: "gateway" } }),
    makeEntry("app:tasks", "http.endpoint", { method: "post", path: "/tasks", func }, { meta: { router: "api" } }),
  ]);
}

test("an endpoint registers its route with its router, method upper-cased and func resolved in its namespace", () => {
  const components = createComponents(registry("create"), { "app:create": fakeFunction("app:create", () => undefined) }, captureLogger().logger);
  const router = components.get("app:api") as HttpRouter;
  assert.deepEqual(
    router.endpoints.map((endpoint) => endpoint.describe()),
    ["POST /tasks → app:create"],
  );
});

test("an endpoint whose func is not a function fails to build with E_REF_KIND", () => {
  assert.throws(
    () => createComponents(registry("app:not_a_function"), { "app:not_a_function": {} }, captureLogger().logger),
    (error: unknown) => {
      assert.ok(error instanceof TaskrtError);
      assert.equal(error.code, "E_REF_KIND");
      assert.equal(error.message, "app:tasks: func app:not_a_function cannot be called");
      assert.equal(error.hint, "point func at a function.ts or function.lua entry");
      return true;
    },
  );
});
