import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startSnippet, type StartedSnippet } from "../../../../test/support/registry.ts";
import type { CallableComponent } from "../../handler.ts";
import type { RuntimeServices } from "../../../contracts/runtime-services.ts";

const SOURCE = `local events = require("events")
return {
  filtered = function()
    local sub = events.subscribe("orders.*")
    local paid = events.subscribe("orders.eu", "order.paid")
    events.send("orders.eu", "order.created", "/orders/1", { id = 1 })
    events.send("billing", "invoice.sent", "/invoices/9")
    events.send("orders.us", "order.paid", "/orders/2")
    events.send("orders.eu", "order.paid", "/orders/1", { total = 9.5 })
    local ch = sub:channel()
    local got = {}
    for i = 1, 3 do
      local evt, ok = ch:receive()
      got[i] = { system = evt.system, kind = evt.kind, path = evt.path, data = evt.data, ok = ok }
    end
    local only, only_ok = paid:channel():receive()
    return { got = got, paid = only.path, paid_ok = only_ok }
  end,
  wait_one = function(system)
    local sub = events.subscribe(system)
    local evt, ok = sub:channel():receive()
    return { kind = evt.kind, data = evt.data, ok = ok }
  end,
  publish = function(system, kind, path, data)
    local ok, err = events.send(system, kind, path, data)
    if err then return { message = err:message(), kind = err:kind() } end
    return { ok = ok }
  end,
  closed = function()
    local sub = events.subscribe("x")
    events.send("x", "k", "/p")
    local first = sub:close()
    local again = sub:close()
    local ch = sub:channel()
    local evt, ok = ch:receive()
    local after, after_ok = ch:receive()
    return { first = first, again = again, buffered = evt.kind, ok = ok, after = after, after_ok = after_ok }
  end,
}`;

describe("lua events module", () => {
  let app: StartedSnippet;
  const call = async (method: string, ...args: unknown[]) => (await app.supervisor.component<CallableComponent>(`app:${method}`).callable().call(args)).value;
  const subscribers = () => (app.supervisor.services as Required<RuntimeServices>).events as unknown as { subscriberCount: number };

  before(async () => {
    app = await startSnippet(
      ["filtered", "wait_one", "publish", "closed"]
        .map(
          (method) => `
      - name: ${method}
        kind: function.lua
        source: file://events.lua
        method: ${method}
        modules: [events]`,
        )
        .join(""),
      { files: { "app/events.lua": SOURCE } },
    );
  });
  after(async () => {
    await app?.stop();
  });

  test("a subscription receives the events of its system pattern (and kind), in order, with their data", async () => {
    assert.deepEqual(await call("filtered"), {
      got: [
        { system: "orders.eu", kind: "order.created", path: "/orders/1", data: { id: 1 }, ok: true },
        { system: "orders.us", kind: "order.paid", path: "/orders/2", ok: true },
        { system: "orders.eu", kind: "order.paid", path: "/orders/1", data: { total: 9.5 }, ok: true },
      ],
      paid: "/orders/1",
      paid_ok: true,
    });
  });

  test("an event sent by one call reaches a subscriber waiting in another", async () => {
    const before = subscribers().subscriberCount;
    const waiting = call("wait_one", "jobs");
    // The subscriber is in place once the bus counts it: then the event cannot pass it by.
    while (subscribers().subscriberCount === before) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(await call("publish", "jobs", "job.done", "/jobs/7", { seconds: 3 }), { ok: true });
    assert.deepEqual(await waiting, { kind: "job.done", data: { seconds: 3 }, ok: true });
  });

  test("a subscription ends with the call that made it", async () => {
    const before = subscribers().subscriberCount;
    await call("filtered");
    assert.equal(subscribers().subscriberCount, before);
  });

  test("sending with no subscriber succeeds; an empty system, kind or path is INVALID", async () => {
    assert.deepEqual(await call("publish", "nobody", "k", "/p"), { ok: true });
    assert.deepEqual(await call("publish", "", "k", "/p"), { message: "events.send: the system is empty", kind: "INVALID" });
    assert.deepEqual(await call("publish", "s", "", "/p"), { message: "events.send: the kind is empty", kind: "INVALID" });
    assert.deepEqual(await call("publish", "s", "k", ""), { message: "events.send: the path is empty", kind: "INVALID" });
  });

  test("close() is idempotent; buffered events are still received, then nil, false", async () => {
    assert.deepEqual(await call("closed"), { first: true, again: true, buffered: "k", ok: true, after_ok: false });
  });
});
