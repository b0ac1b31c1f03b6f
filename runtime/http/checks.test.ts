import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { checkSnippet, STAND_IN_MODULE, type CheckedSnippet } from "../../test/support/registry.ts";

/** Two servers, three routers on them and a function for the endpoints, as registry YAML. */
const SERVERS = `
  - name: gateway
    kind: http.service
    addr: ":8080"
  - name: admin
    kind: http.service
    addr: ":8081"
  - name: api
    kind: http.router
    meta: { server: gateway }
    prefix: /api/
  - name: api2
    kind: http.router
    meta: { server: app:gateway }
    prefix: /api
  - name: internal
    kind: http.router
    meta: { server: admin }
    prefix: /api
  - name: handler
    kind: function.ts
    source: file://handler.mjs
    method: handle
`;

function endpoint(name: string, method: string, path: string, router: string): string {
  return `
  - name: ${name}
    kind: http.endpoint
    meta: { router: ${router} }
    method: ${method}
    path: ${path}
    func: app:handler
`;
}

/** Checks the registry as the validator does, which runs each HTTP kind's check. */
function check(yaml: string, files: Record<string, string> = {}): Promise<CheckedSnippet> {
  return checkSnippet(yaml, { files: { ...STAND_IN_MODULE, ...files } });
}

/** The 1-based line of `text` that reads `wanted` (indentation aside), counted here rather than by the loader. */
function lineOf(text: string, wanted: string): number {
  const index = text.split("\n").findIndex((line) => line.trim() === wanted);
  assert.notEqual(index, -1, `${wanted} is not in the snippet`);
  return index + 1;
}

const codes = ({ problems }: CheckedSnippet) => problems.map((problem) => problem.code);

describe("http route conflicts", () => {
  test("reports the second endpoint serving the same method and full path on one server", async () => {
    const ops = 'version: "1.0"\nnamespace: ops\nentries:' + endpoint("list_again", "get", "/tasks", "app:api2");
    const checked = await check(SERVERS + endpoint("list_tasks.endpoint", "GET", "/tasks", "api"), { "ops/_index.yaml": ops });
    const first = lineOf(checked.text, "- name: list_tasks.endpoint");
    assert.deepEqual(checked.problems, [
      {
        code: "E_ROUTE_CONFLICT",
        severity: "error",
        message: `GET /api/tasks on app:gateway is already served by app:list_tasks.endpoint (app/_index.yaml:${first})`,
        entryId: "ops:list_again",
        field: "path",
        location: { file: join(checked.registry.root, "ops", "_index.yaml"), line: lineOf(ops, "path: /tasks"), column: 5 },
        hint: "give one of the two endpoints another method or path, or remove one",
      },
    ]);
  });

  test("treats {id} and :name parameters in the same place as the same route", async () => {
    const checked = await check(SERVERS + endpoint("get", "GET", '"/tasks/{id}"', "api") + endpoint("get2", "GET", "/tasks/:name", "api"));
    assert.equal(checked.problems.length, 1);
    assert.equal(checked.problems[0].message, `GET /api/tasks/:name on app:gateway is already served by app:get (app/_index.yaml:${lineOf(checked.text, "- name: get")})`);
  });

  test("accepts the same path with another method, on another server, or a static segment beside a parameter", async () => {
    const checked = await check(
      SERVERS +
        endpoint("list", "GET", "/tasks", "api") +
        endpoint("create", "POST", "/tasks", "api") +
        endpoint("internal_list", "GET", "/tasks", "internal") +
        endpoint("one", "GET", '"/tasks/{id}"', "api") +
        endpoint("stats", "GET", "/tasks/stats", "api"),
    );
    assert.deepEqual(checked.problems, []);
  });

  test("stays quiet about an endpoint whose router does not resolve (the reference check reports it)", async () => {
    const checked = await check(SERVERS + endpoint("a", "GET", "/x", "missing") + endpoint("b", "GET", "/x", "missing"));
    assert.deepEqual(codes(checked), ["E_REF_UNRESOLVED", "E_REF_UNRESOLVED"]);
  });
});

describe("http addr conflicts", () => {
  test("reports the second http.service listening on the same port, :8080 and 0.0.0.0:8080 alike", async () => {
    const checked = await check(`
      - name: gateway
        kind: http.service
        addr: ":8080"
      - name: other
        kind: http.service
        addr: "0.0.0.0:8080"
    `);
    assert.deepEqual(checked.problems, [
      {
        code: "E_ADDR_CONFLICT",
        severity: "error",
        message: `addr 0.0.0.0:8080 is already taken by app:gateway (app/_index.yaml:${lineOf(checked.text, "- name: gateway")}), which listens on :8080`,
        entryId: "app:other",
        field: "addr",
        location: { file: join(checked.registry.root, "app", "_index.yaml"), line: lineOf(checked.text, 'addr: "0.0.0.0:8080"'), column: 5 },
        hint: "give each http.service its own port",
      },
    ]);
  });

  test("accepts different ports, different hosts, and ephemeral ports", async () => {
    const services = [":8080", ":8081", "10.0.0.1:9000", "10.0.0.2:9000", "127.0.0.1:0", "127.0.0.1:0"];
    const checked = await check(services.map((addr, index) => `\n  - name: s${index}\n    kind: http.service\n    addr: "${addr}"\n`).join(""));
    assert.deepEqual(checked.problems, []);
  });
});
