import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { accessModeFrom, generatedToken, isLoopbackHost, refuse, type AccessRequest } from "./access.ts";

function request(overrides: { headers?: Record<string, string>; method?: string } = {}): AccessRequest {
  return {
    headers: new Headers({ host: "127.0.0.1:8080", ...overrides.headers }),
    method: overrides.method ?? "GET",
  };
}

async function refusal(response: Response | undefined): Promise<[number, string] | undefined> {
  if (!response) return undefined;
  return [response.status, ((await response.json()) as { error: string }).error];
}

const GENERATED = accessModeFrom("DASHBOARD_TOKEN", () => "g3nerated", {});
const CONFIGURED = accessModeFrom("DASHBOARD_TOKEN", () => assert.fail("a configured token generates none"), { DASHBOARD_TOKEN: " s3cret " });
const MISSING_GENERATED =
  "a bearer token is required: DASHBOARD_TOKEN is unset, so one was generated at start; open the dashboard's address that `taskrt run` printed, which carries it";

describe("dashboard access", () => {
  test("without a token in the environment (or with a blank one) a token is generated; with one, it is used", () => {
    assert.deepEqual([GENERATED.kind, GENERATED.kind === "generated" && GENERATED.token], ["generated", "g3nerated"]);
    assert.equal(accessModeFrom("DASHBOARD_TOKEN", () => "x", { DASHBOARD_TOKEN: "  " }).kind, "generated");
    assert.equal(CONFIGURED.kind, "configured");
  });

  test("a generated token is url-safe, 32 characters long, different per dashboard and stable for one", () => {
    const first = generatedToken(`app:first-${process.pid}`);
    assert.match(first, /^[A-Za-z0-9_-]{32}$/);
    assert.equal(generatedToken(`app:first-${process.pid}`), first);
    assert.notEqual(generatedToken(`app:second-${process.pid}`), first);
  });

  test("loopback host names are recognised, others are not", () => {
    for (const host of ["localhost", "localhost:8080", "127.0.0.1:80", "[::1]:8080", "app.localhost:3000", "LOCALHOST"]) assert.equal(isLoopbackHost(host), true, host);
    for (const host of ["evil.example:8080", "127.0.0.1.evil.example", "[::2]:80", undefined]) assert.equal(isLoopbackHost(host), false, String(host));
  });

  test("with a generated token the API needs it, even from loopback; the page itself does not", async () => {
    assert.deepEqual(await refusal(refuse(GENERATED, request(), true)), [401, MISSING_GENERATED]);
    assert.deepEqual(await refusal(refuse(GENERATED, request({ headers: { authorization: "Bearer s3cret" } }), true)), [401, "wrong bearer token"]);
    assert.equal(refuse(GENERATED, request({ headers: { authorization: "Bearer g3nerated" } }), true), undefined);
    assert.equal(refuse(GENERATED, request({ headers: { host: "localhost:8080" } }), false), undefined);
  });

  test("a request relayed by a proxy gets no more than a direct one: headers say nothing about access", async () => {
    for (const header of ["x-forwarded-for", "forwarded", "x-real-ip"]) {
      assert.deepEqual(await refusal(refuse(GENERATED, request({ headers: { [header]: "127.0.0.1" } }), true)), [401, MISSING_GENERATED], header);
      assert.equal(refuse(GENERATED, request({ headers: { [header]: "203.0.113.9", authorization: "Bearer g3nerated" } }), true), undefined, header);
    }
  });

  test("with a generated token a foreign host name is refused (DNS rebinding), naming the variable that lifts it", async () => {
    assert.deepEqual(await refusal(refuse(GENERATED, request({ headers: { host: "attacker.example:8080", authorization: "Bearer g3nerated" } }), false)), [
      403,
      "the dashboard answers loopback host names only (localhost, 127.0.0.1, [::1]) while its token is generated; set DASHBOARD_TOKEN to serve it under another name",
    ]);
  });

  test("a configured token: the API needs it, under any host name; the page itself does not", async () => {
    assert.deepEqual(await refusal(refuse(CONFIGURED, request(), true)), [401, "a bearer token is required"]);
    const missing = refuse(CONFIGURED, request(), true);
    assert.equal(missing?.headers.get("www-authenticate"), 'Bearer realm="taskrt dashboard"');
    assert.deepEqual(await refusal(refuse(CONFIGURED, request({ headers: { authorization: "Bearer nope" } }), true)), [401, "wrong bearer token"]);
    assert.deepEqual(await refusal(refuse(CONFIGURED, request({ headers: { authorization: "Basic czNjcmV0" } }), true)), [401, "a bearer token is required"]);
    assert.equal(refuse(CONFIGURED, request({ headers: { authorization: "Bearer s3cret", host: "ops.example.com" } }), true), undefined);
    assert.equal(refuse(CONFIGURED, request({ headers: { host: "ops.example.com" } }), false), undefined);
  });

  test("an action (POST) needs the dashboard's own header besides the token, so a cross-site form cannot trigger it", async () => {
    for (const [mode, token] of [[GENERATED, "g3nerated"], [CONFIGURED, "s3cret"]] as const) {
      const withToken = { authorization: `Bearer ${token}` };
      assert.deepEqual(await refusal(refuse(mode, request({ method: "POST", headers: withToken }), true)), [403, "a dashboard action needs the x-taskrt-dashboard: 1 header"]);
      assert.equal(refuse(mode, request({ method: "POST", headers: { ...withToken, "x-taskrt-dashboard": "1" } }), true), undefined);
    }
  });
});
