import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { checkSnippet, startSnippet, type StartedSnippet } from "../../../../test/support/registry.ts";
import type { CallableComponent } from "../../handler.ts";

const SOURCE = `local registry = require("registry")
local function fail(err) return { message = err:message(), kind = err:kind() } end
return {
  get = function(id)
    local entry, err = registry.get(id)
    if err then return fail(err) end
    return entry
  end,
  find = function(filter)
    local entries, err = registry.find(filter)
    if err then return fail(err) end
    local ids = {}
    for _, entry in ipairs(entries) do ids[#ids + 1] = entry.id end
    return ids
  end,
  parse = function(id) return registry.parse_id(id) end,
  snapshot = function()
    local snap = registry.snapshot()
    local count = #snap:entries()
    local in_ns = #snap:namespace("config")
    local one = snap:get("config:limits")
    return { count = count, in_ns = in_ns, limit = one.data.max_items, version = snap:version():string() }
  end,
  change = function()
    local snap = registry.snapshot()
    local before = snap:version()
    local changes = snap:changes()
    changes:create({ id = "config:feature_x", kind = "registry.entry", meta = { type = "feature" }, data = { enabled = true } })
    changes:update({ id = "config:limits", kind = "registry.entry", meta = { type = "limits" }, data = { max_items = 99 } })
    changes:delete("config:old")
    local ops = changes:ops()
    local version, err = changes:apply()
    if err then return fail(err) end
    local limits = registry.get("config:limits")
    local gone, gone_err = registry.get("config:old")
    local feature = registry.get("config:feature_x")
    return { ops = #ops, first_op = ops[1].kind, version = version:id(), before = before:id(), previous = version:previous():id(),
      limit = limits.data.max_items, old_snapshot_limit = snap:get("config:limits").data.max_items, gone = gone_err:kind(), feature = feature.data.enabled }
  end,
  refused = function()
    local changes = registry.snapshot():changes()
    changes:update({ id = "app:get", kind = "function.lua", data = {} })
    local version, err = changes:apply()
    return fail(err)
  end,
}`;

describe("lua registry module", () => {
  let app: StartedSnippet;
  const call = async (method: string, ...args: unknown[]) => (await app.supervisor.component<CallableComponent>(`app:${method}`).callable().call(args)).value;

  before(async () => {
    app = await startSnippet(
      `${["get", "find", "parse", "snapshot", "change", "refused"].map((method) => `
      - name: ${method}
        kind: function.lua
        source: file://registry.lua
        method: ${method}
        meta: { type: probe }
        modules: [registry]`).join("")}`,
      {
        files: {
          "app/registry.lua": SOURCE,
          "config/_index.yaml": `version: "1.0"
namespace: config
entries:
  - name: definition
    kind: ns.definition
    meta: { title: Configuration }
    description: Settings the app reads at run time
  - name: limits
    kind: registry.entry
    meta: { type: limits }
    max_items: 10
    labels: [a, b]
  - name: old
    kind: registry.entry
    meta: { type: limits }
    max_items: 1
`,
        },
      },
    );
  });
  after(async () => {
    await app?.stop();
  });

  test("registry.get returns an entry's id, kind, meta and data", async () => {
    assert.deepEqual(await call("get", "config:limits"), { id: "config:limits", kind: "registry.entry", meta: { type: "limits" }, data: { max_items: 10, labels: ["a", "b"] } });
    assert.deepEqual(await call("get", "config:nope"), { message: "registry: no entry config:nope", kind: "NOT_FOUND" });
  });

  test("registry.find filters on .kind, .ns, .name and meta fields, and lists the entries sorted by id", async () => {
    assert.deepEqual(await call("find", { ".kind": "registry.entry" }), ["config:limits", "config:old"]);
    assert.deepEqual(await call("find", { kind: "ns.definition" }), ["config:definition"]);
    assert.deepEqual(await call("find", { ".ns": "config", ".kind": "ns.definition" }), ["config:definition"]);
    assert.deepEqual(await call("find", { type: "probe", ".name": "get" }), ["app:get"]);
    assert.deepEqual(await call("find", { "meta.type": "limits" }), ["config:limits", "config:old"]);
    assert.deepEqual(await call("find", { type: "nothing" }), []);
  });

  test("registry.parse_id splits at the first colon", async () => {
    assert.deepEqual(await call("parse", "app.api:get:user"), { ns: "app.api", name: "get:user" });
  });

  test("a snapshot lists, finds and reads entries at its version", async () => {
    const found = (await call("snapshot")) as { count: number; in_ns: number; limit: number; version: number };
    assert.equal(found.in_ns >= 2, true);
    assert.equal(found.count, app.registry.entries.length);
    assert.equal(found.limit, 10);
    assert.match(String(found.version), /^v\d+$/);
  });

  test("a changeset creates, updates and deletes data entries and raises the version; old snapshots keep what they saw", async () => {
    const result = (await call("change")) as Record<string, unknown>;
    assert.deepEqual(result, { ops: 3, first_op: "entry.create", version: (result.before as number) + 1, before: result.before, previous: result.before, limit: 99, old_snapshot_limit: 10, gone: "NOT_FOUND", feature: true });
  });

  test("a changeset touching an entry taskrt runs is refused whole", async () => {
    assert.deepEqual(await call("refused"), {
      message: "registry: app:get is a function.lua entry: taskrt changes only data entries (registry.entry, ns.definition) while it runs",
      kind: "INVALID",
    });
  });
});

describe("registry.entry and ns.definition", () => {
  test("take any fields without unknown-field warnings", async () => {
    const { problems, remove } = await checkSnippet(`
      - name: settings
        kind: registry.entry
        anything: [1, 2]
        nested: { deep: true }
      - name: about
        kind: ns.definition
        title: App
    `);
    remove();
    assert.deepEqual(problems, []);
  });
});
