import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { accessModeFrom, isLoopbackAddress, isLoopbackHost, refuse, type AccessRequest } from "./access.ts";

function request(overrides: { remote?: string; headers?: Record<string, string>; method?: string } = {}): AccessRequest {
  return {
    remoteAddress: overrides.remote ?? "127.0.0.1",
    headers: new Headers({ host: "127.0.0.1:8080", ...overrides.headers }),
    method: overrides.method ?? "GET",
  };
}

async function refusal(response: Response | undefined): Promise<[number, string] | undefined> {
  if (!response) return undefined;
  return [response.status, ((await response.json()) as { error: string }).error];
}

const LOOPBACK = accessModeFrom("DASHBOARD_TOKEN", {});
const TOKEN = accessModeFrom("DASHBOARD_TOKEN", { DASHBOARD_TOKEN: " s3cret " });

describe("dashboard access", () => {
  test("without a token in the environment (or a blank one) it is loopback-only", () => {
    assert.equal(LOOPBACK.kind, "loopback");
    assert.equal(accessModeFrom("DASHBOARD_TOKEN", { DASHBOARD_TOKEN: "  " }).kind, "loopback");
    assert.equal(TOKEN.kind, "token");
  });

  test("loopback addresses and host names are recognised, others are not", () => {
    for (const address of ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"]) assert.equal(isLoopbackAddress(address), true, address);
    for (const address of ["10.0.0.1", "::ffff:10.0.0.1", "128.0.0.1", "", undefined]) assert.equal(isLoopbackAddress(address), false, String(address));
    for (const host of ["localhost", "localhost:8080", "127.0.0.1:80", "[::1]:8080", "app.localhost:3000", "LOCALHOST"]) assert.equal(isLoopbackHost(host), true, host);
    for (const host of ["evil.example:8080", "127.0.0.1.evil.example", "[::2]:80", undefined]) assert.equal(isLoopbackHost(host), false, String(host));
  });

  test("loopback mode lets a local browser in, page and API alike", () => {
    assert.equal(refuse(LOOPBACK, request(), true), undefined);
    assert.equal(refuse(LOOPBACK, request({ remote: "::1", headers: { host: "localhost:8080" } }), false), undefined);
  });

  test("loopback mode refuses another host, naming the variable that opens it", async () => {
    assert.deepEqual(await refusal(refuse(LOOPBACK, request({ remote: "192.168.1.20" }), false)), [
      403,
      "the dashboard answers loopback clients only; set DASHBOARD_TOKEN to open it to other hosts with a bearer token",
    ]);
  });

  test("loopback mode refuses a request relayed by a proxy on the same host", async () => {
    for (const header of ["x-forwarded-for", "forwarded", "x-real-ip"]) {
      const response = await refusal(refuse(LOOPBACK, request({ headers: { [header]: "203.0.113.9" } }), true));
      assert.equal(response?.[0], 403, header);
    }
  });

  test("loopback mode refuses a foreign host name (DNS rebinding)", async () => {
    assert.deepEqual(await refusal(refuse(LOOPBACK, request({ headers: { host: "attacker.example:8080" } }), true)), [
      403,
      "the dashboard answers loopback host names only (localhost, 127.0.0.1, [::1])",
    ]);
  });

  test("token mode: the API needs the bearer token, from any address; the page itself does not", async () => {
    const remote = "203.0.113.7";
    assert.deepEqual(await refusal(refuse(TOKEN, request({ remote }), true)), [401, "a bearer token is required"]);
    const missing = refuse(TOKEN, request({ remote }), true);
    assert.equal(missing?.headers.get("www-authenticate"), 'Bearer realm="taskrt dashboard"');
    assert.deepEqual(await refusal(refuse(TOKEN, request({ remote, headers: { authorization: "Bearer nope" } }), true)), [401, "wrong bearer token"]);
    assert.deepEqual(await refusal(refuse(TOKEN, request({ remote, headers: { authorization: "Basic czNjcmV0" } }), true)), [401, "a bearer token is required"]);
    assert.equal(refuse(TOKEN, request({ remote, headers: { authorization: "Bearer s3cret", host: "ops.example.com" } }), true), undefined);
    assert.equal(refuse(TOKEN, request({ remote }), false), undefined);
  });

  test("an action (POST) needs the dashboard's own header, so a cross-site form cannot trigger it", async () => {
    assert.deepEqual(await refusal(refuse(LOOPBACK, request({ method: "POST" }), true)), [403, "a dashboard action needs the x-taskrt-dashboard: 1 header"]);
    assert.equal(refuse(LOOPBACK, request({ method: "POST", headers: { "x-taskrt-dashboard": "1" } }), true), undefined);
    const withToken = { authorization: "Bearer s3cret" };
    assert.equal((await refusal(refuse(TOKEN, request({ method: "POST", headers: withToken }), true)))?.[0], 403);
    assert.equal(refuse(TOKEN, request({ method: "POST", headers: { ...withToken, "x-taskrt-dashboard": "1" } }), true), undefined);
  });
});
