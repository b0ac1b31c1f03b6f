import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { checkSnippet, startSnippet, type StartedSnippet } from "../../../../test/support/registry.ts";
import type { CallableComponent } from "../../handler.ts";

const SOURCE = `local env = require("env")
return {
  get = function(name)
    local value, err = env.get(name)
    if err then return { message = err:message(), kind = err:kind() } end
    return { value = value }
  end,
  set = function(name, value)
    local ok, err = env.set(name, value)
    if err then return { message = err:message(), kind = err:kind() } end
    return { ok = ok }
  end,
  all = function() return env.get_all() end,
}`;

describe("lua env module and the env.* kinds", () => {
  let app: StartedSnippet;
  const call = async (method: string, ...args: unknown[]) => (await app.supervisor.component<CallableComponent>(`app:${method}`).callable().call(args)).value;
  const envFile = () => `${app.registry.root}/config/app.env`;

  before(async () => {
    process.env.TASKRT_ENV_TEST_HOME = "/home/tester";
    app = await startSnippet(
      `
      - name: memory
        kind: env.storage.memory
      - name: os
        kind: env.storage.os
      - name: file
        kind: env.storage.file
        file_path: ./config/app.env
        auto_create: true
        file_mode: 0600
      - name: defaults
        kind: env.storage.static
        values:
          REGION: eu-west
      - name: layered
        kind: env.storage.router
        storages: [app:memory, app:defaults]
      - name: port
        kind: env.variable
        variable: PORT
        storage: app:memory
        default: "8080"
      - name: home
        kind: env.variable
        variable: TASKRT_ENV_TEST_HOME
        storage: app:os
      - name: token
        kind: env.variable
        variable: API_TOKEN
        storage: app:file
      - name: region
        kind: env.variable
        variable: REGION
        storage: app:layered
      - name: locked
        kind: env.variable
        variable: LOCKED
        storage: app:memory
        default: "fixed"
        readonly: true
      - name: version
        kind: env.variable
        variable: APP_VERSION
        storage: app:memory
        default: "1.0.0"
        read_only: true
      - name: private_key
        kind: env.variable
        storage: app:memory
      ${["get", "set", "all"].map((method) => `
      - name: ${method}
        kind: function.lua
        source: file://env.lua
        method: ${method}
        modules: [env]`).join("")}
      `,
      { files: { "app/env.lua": SOURCE } },
    );
  });
  after(async () => {
    await app?.stop();
    delete process.env.TASKRT_ENV_TEST_HOME;
  });

  test("env.get returns the variable's default until env.set gives it a value", async () => {
    assert.deepEqual(await call("get", "PORT"), { value: "8080" });
    assert.deepEqual(await call("set", "PORT", "9090"), { ok: true });
    assert.deepEqual(await call("get", "PORT"), { value: "9090" });
    assert.deepEqual(await call("get", "app:port"), { value: "9090" }, "by entry id too");
  });

  test("an undeclared variable is NOT_FOUND, even when the OS has it", async () => {
    assert.deepEqual(await call("get", "PATH"), { message: "env: no variable PATH", kind: "NOT_FOUND" });
    assert.deepEqual(await call("get", ""), { message: "env: the variable name is empty", kind: "INVALID" });
  });

  test("env.storage.os reads the OS environment and refuses writes", async () => {
    assert.deepEqual(await call("get", "TASKRT_ENV_TEST_HOME"), { value: "/home/tester" });
    assert.deepEqual(await call("set", "TASKRT_ENV_TEST_HOME", "/tmp"), { message: "env: variable TASKRT_ENV_TEST_HOME is kept in read-only storage app:os", kind: "PERMISSION_DENIED" });
  });

  test("a readonly variable refuses env.set", async () => {
    assert.deepEqual(await call("set", "LOCKED", "other"), { message: "env: variable LOCKED is read-only (app:locked)", kind: "PERMISSION_DENIED" });
    assert.deepEqual(await call("get", "LOCKED"), { value: "fixed" });
    assert.deepEqual(await call("set", "APP_VERSION", "2.0.0"), { message: "env: variable APP_VERSION is read-only (app:version)", kind: "PERMISSION_DENIED" }, "read_only, as Wippy's examples spell it");
  });

  test("env.storage.file creates its file (a relative path is under the project root) and writes every set to it as KEY=VALUE", async () => {
    assert.equal(statSync(envFile()).mode & 0o777, 0o600);
    assert.deepEqual(await call("set", "API_TOKEN", "s3cret"), { ok: true });
    assert.equal(readFileSync(envFile(), "utf8"), "API_TOKEN=s3cret\n");
    assert.deepEqual(await call("get", "API_TOKEN"), { value: "s3cret" });
  });

  test("a router reads the first storage with a value and writes to the first", async () => {
    assert.deepEqual(await call("get", "REGION"), { value: "eu-west" });
    assert.deepEqual(await call("set", "REGION", "us-east"), { ok: true });
    assert.deepEqual(await call("get", "REGION"), { value: "us-east" });
  });

  test("env.get_all lists the variables that have a value, by public name or id", async () => {
    const all = (await call("all")) as Record<string, string>;
    assert.equal(all.LOCKED, "fixed");
    assert.equal(all.REGION !== undefined, true);
    assert.equal(all.TASKRT_ENV_TEST_HOME, "/home/tester");
    assert.equal("app:private_key" in all, false);
  });
});

describe("env kinds are checked", () => {
  test("a variable name with a dash, a missing storage, and a storage of the wrong kind are refused", async () => {
    const { problems, remove } = await checkSnippet(`
      - name: memory
        kind: env.storage.memory
      - name: bad_name
        kind: env.variable
        variable: API-KEY
        storage: app:memory
      - name: no_storage
        kind: env.variable
        variable: X
      - name: wrong_storage
        kind: env.variable
        variable: Y
        storage: app:bad_name
    `);
    remove();
    const messages = problems.filter((problem) => problem.severity === "error").map((problem) => `${problem.entryId}: ${problem.message}`);
    assert.equal(messages.length, 3, messages.join("\n"));
    assert.match(messages.find((line) => line.startsWith("app:bad_name"))!, /variable/);
    assert.match(messages.find((line) => line.startsWith("app:no_storage"))!, /storage/);
    assert.match(messages.find((line) => line.startsWith("app:wrong_storage"))!, /env\.storage/);
  });

  test("a file storage whose file is missing fails its start unless auto_create is set", async () => {
    await assert.rejects(
      startSnippet(`
      - name: file
        kind: env.storage.file
        file_path: "{dir}/missing.env"
    `),
      /missing\.env does not exist/,
    );
  });
});
