import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { compileRouteMatcher, joinRoutePath, routeShape, toHonoPath } from "./route-path.ts";
import { addrsCollide, formatUrl, parseAddr } from "./addr.ts";

describe("route paths", () => {
  test("joins a prefix and a path, ignoring a trailing slash on the prefix", () => {
    assert.equal(joinRoutePath("/api", "/tasks"), "/api/tasks");
    assert.equal(joinRoutePath("/api/", "/tasks"), "/api/tasks");
    assert.equal(joinRoutePath("/", "/tasks"), "/tasks");
    assert.equal(joinRoutePath("", "/tasks"), "/tasks");
  });

  test("turns {id} into :id and {rest...} into a catch-all parameter", () => {
    assert.equal(toHonoPath("/tasks/{id}/runs/{run_id}"), "/tasks/:id/runs/:run_id");
    assert.equal(toHonoPath("/files/{path...}"), "/files/:path{.+}");
    assert.equal(toHonoPath("/tasks/:id"), "/tasks/:id");
  });

  test("gives {id} and :other the same shape, and static segments their own", () => {
    assert.equal(routeShape("/tasks/{id}"), routeShape("/tasks/:other"));
    assert.notEqual(routeShape("/tasks/{id}"), routeShape("/tasks/list"));
    assert.equal(routeShape("/files/:p{[0-9]+}"), "/files/:{[0-9]+}");
  });

  test("matches whole paths for 405 detection", () => {
    assert.ok(compileRouteMatcher("/tasks/:id").test("/tasks/7"));
    assert.ok(!compileRouteMatcher("/tasks/:id").test("/tasks/7/runs"));
    assert.ok(!compileRouteMatcher("/tasks/:id").test("/tasks/"));
    assert.ok(compileRouteMatcher("/files/:path{.+}").test("/files/a/b.txt"));
    assert.ok(compileRouteMatcher("/v1.0/*").test("/v1.0/anything/here"));
    assert.ok(!compileRouteMatcher("/v1.0/x").test("/v100/x"));
    assert.ok(compileRouteMatcher("/tasks/:id?").test("/tasks"));
    assert.ok(compileRouteMatcher("/tasks/:id?").test("/tasks/3"));
  });
});

describe("addrs", () => {
  test("reads :port as every interface and host:port as that host", () => {
    assert.deepEqual(parseAddr(":8080"), { host: undefined, port: 8080 });
    assert.deepEqual(parseAddr("0.0.0.0:8080"), { host: undefined, port: 8080 });
    assert.deepEqual(parseAddr("127.0.0.1:0"), { host: "127.0.0.1", port: 0 });
    assert.deepEqual(parseAddr("[::1]:9000"), { host: "::1", port: 9000 });
  });

  test("finds a collision on the same port unless both bind different hosts, never on port 0", () => {
    assert.ok(addrsCollide(parseAddr(":8080"), parseAddr("0.0.0.0:8080")));
    assert.ok(addrsCollide(parseAddr("127.0.0.1:8080"), parseAddr(":8080")));
    assert.ok(addrsCollide(parseAddr("localhost:8080"), parseAddr("127.0.0.1:8080")));
    assert.ok(!addrsCollide(parseAddr("10.0.0.1:8080"), parseAddr("127.0.0.1:8080")));
    assert.ok(!addrsCollide(parseAddr(":8080"), parseAddr(":8081")));
    assert.ok(!addrsCollide(parseAddr(":0"), parseAddr(":0")));
  });

  test("brackets IPv6 hosts in URLs", () => {
    assert.equal(formatUrl("::1", 80), "http://[::1]:80");
    assert.equal(formatUrl("127.0.0.1", 80), "http://127.0.0.1:80");
  });
});
