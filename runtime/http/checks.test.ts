import { test, describe } from "node:test";
import assert from "node:assert/strict";
import httpService from "../kinds/http-service.ts";
import httpEndpoint from "../kinds/http-endpoint.ts";
import { makeEntry, makeRegistry, TEST_ROOT } from "./test-helpers.ts";
import type { Entry } from "../registry/entry.ts";
import type { Problem } from "../errors.ts";
import { join } from "node:path";

function endpoint(id: string, method: string, path: string, router: string, line: number): Entry {
  return makeEntry(id, "http.endpoint", { method, path, func: "app:handler" }, { meta: { router }, line });
}

/** Runs each HTTP kind's check on its entries, as the validator does. Both checks are synchronous. */
function checkAll(entries: Entry[]): Problem[] {
  const registry = makeRegistry(entries);
  const kinds = new Map([httpEndpoint, httpService].map((kind) => [kind.kind, kind]));
  return entries.flatMap((entry) => (kinds.get(entry.kind)?.check?.(entry, registry) as Problem[] | undefined) ?? []);
}

const servers = [
  makeEntry("app:gateway", "http.service", { addr: ":8080" }, { line: 1 }),
  makeEntry("app:admin", "http.service", { addr: ":8081" }, { line: 5 }),
  makeEntry("app:api", "http.router", { prefix: "/api/" }, { meta: { server: "gateway" }, line: 10 }),
  makeEntry("app:api2", "http.router", { prefix: "/api" }, { meta: { server: "app:gateway" }, line: 14 }),
  makeEntry("app:internal", "http.router", { prefix: "/api" }, { meta: { server: "admin" }, line: 18 }),
];

describe("http route conflicts", () => {
  test("reports the second endpoint serving the same method and full path on one server", () => {
    const problems = checkAll([...servers, endpoint("app:list_tasks.endpoint", "GET", "/tasks", "api", 20), endpoint("ops:list_again", "get", "/tasks", "app:api2", 30)]);
    assert.deepEqual(problems, [
      {
        code: "E_ROUTE_CONFLICT",
        severity: "error",
        message: "GET /api/tasks on app:gateway is already served by app:list_tasks.endpoint (app/_index.yaml:20)",
        entryId: "ops:list_again",
        field: "path",
        location: { file: join(TEST_ROOT, "app", "_index.yaml"), line: 32, column: 5 },
        hint: "give one of the two endpoints another method or path, or remove one",
      },
    ]);
  });

  test("treats {id} and :name parameters in the same place as the same route", () => {
    const problems = checkAll([...servers, endpoint("app:get", "GET", "/tasks/{id}", "api", 20), endpoint("app:get2", "GET", "/tasks/:name", "api", 30)]);
    assert.equal(problems.length, 1);
    assert.equal(problems[0].message, "GET /api/tasks/:name on app:gateway is already served by app:get (app/_index.yaml:20)");
  });

  test("accepts the same path with another method, on another server, or a static segment beside a parameter", () => {
    const problems = checkAll([
      ...servers,
      endpoint("app:list", "GET", "/tasks", "api", 20),
      endpoint("app:create", "POST", "/tasks", "api", 22),
      endpoint("app:internal_list", "GET", "/tasks", "internal", 24),
      endpoint("app:one", "GET", "/tasks/{id}", "api", 26),
      endpoint("app:stats", "GET", "/tasks/stats", "api", 28),
    ]);
    assert.deepEqual(problems, []);
  });

  test("stays quiet about an endpoint whose router does not resolve (the reference check reports it)", () => {
    assert.deepEqual(checkAll([...servers, endpoint("app:a", "GET", "/x", "missing", 20), endpoint("app:b", "GET", "/x", "missing", 22)]), []);
  });
});

describe("http addr conflicts", () => {
  test("reports the second http.service listening on the same port, :8080 and 0.0.0.0:8080 alike", () => {
    const problems = checkAll([
      makeEntry("app:gateway", "http.service", { addr: ":8080" }, { line: 1 }),
      makeEntry("app:other", "http.service", { addr: "0.0.0.0:8080" }, { line: 7 }),
    ]);
    assert.deepEqual(problems, [
      {
        code: "E_ADDR_CONFLICT",
        severity: "error",
        message: "addr 0.0.0.0:8080 is already taken by app:gateway (app/_index.yaml:1), which listens on :8080",
        entryId: "app:other",
        field: "addr",
        location: { file: join(TEST_ROOT, "app", "_index.yaml"), line: 9, column: 5 },
        hint: "give each http.service its own port",
      },
    ]);
  });

  test("accepts different ports, different hosts, and ephemeral ports", () => {
    const problems = checkAll([
      makeEntry("app:a", "http.service", { addr: ":8080" }),
      makeEntry("app:b", "http.service", { addr: ":8081" }),
      makeEntry("app:c", "http.service", { addr: "10.0.0.1:9000" }),
      makeEntry("app:d", "http.service", { addr: "10.0.0.2:9000" }),
      makeEntry("app:e", "http.service", { addr: "127.0.0.1:0" }),
      makeEntry("app:f", "http.service", { addr: "127.0.0.1:0" }),
    ]);
    assert.deepEqual(problems, []);
  });
});
