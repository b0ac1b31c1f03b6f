import { test } from "node:test";
import assert from "node:assert/strict";
import { TaskrtError } from "../errors.ts";
import { captureLogger } from "../../test/support/logs.ts";
import { createComponents, registryFrom } from "../../test/support/registry.ts";

const GATEWAY = `
  - name: gateway
    kind: http.service
    addr: 127.0.0.1:0
`;

test("a router whose meta.server is not an http.service fails to build with E_REF_KIND", async () => {
  // The validator reports it first; the kind refuses it too when built without that check.
  const registry = await registryFrom(
    `
    - name: db
      kind: db.sql.sqlite
      file: app.db
    - name: api
      kind: http.router
      meta:
        server: db
    `,
    { expectProblems: ["E_REF_KIND"] },
  );
  assert.throws(
    () => createComponents(registry, captureLogger().logger, { standIns: { "app:db": {} } }),
    (error: unknown) => {
      assert.ok(error instanceof TaskrtError);
      assert.equal(error.code, "E_REF_KIND");
      assert.equal(error.message, "app:api: meta.server app:db is not an http.service");
      return true;
    },
  );
});

test("a router attaches to its server and describes its prefix", async () => {
  const registry = await registryFrom(
    GATEWAY +
      `
  - name: api
    kind: http.router
    meta:
      server: gateway
`,
  );
  const router = createComponents(registry, captureLogger().logger).get("app:api");
  assert.equal(router?.describe?.(), "0 endpoints under /");
});

test("a router warns that the middleware it lists is not applied", async () => {
  const registry = await registryFrom(
    GATEWAY +
      `
  - name: api
    kind: http.router
    meta:
      server: gateway
    middleware: [cors, token_auth]
`,
  );
  const { logger, lines } = captureLogger();
  createComponents(registry, logger);
  assert.deepEqual(
    lines.map((line) => [line.level, line.entry, line.msg]),
    [["warn", "app:api", "middleware is not supported yet and is ignored: cors, token_auth"]],
  );
});
