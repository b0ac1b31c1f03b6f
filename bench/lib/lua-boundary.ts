/**
 * @module bench/lib/lua-boundary — what one module call across the Lua worker boundary costs: a
 * Lua handler (on a worker) calls `queue.publish`, which the main thread serves, n times in a
 * loop, and `json.encode`, which runs in the worker, as many times. Measured in this process
 * through the path endpoints use (`callable().call()`), against a queue that records in memory.
 */
import path from "node:path";
import functionLua from "../../runtime/kinds/function-lua.ts";
import type { Component } from "../../runtime/contracts/component.ts";
import type { CallableComponent } from "../../runtime/handlers/handler.ts";
import { TestServices, buildContext, luaEntry } from "../../runtime/handlers/lua/test-support.ts";
import { REPO_ROOT } from "./settings.ts";

export interface BoundaryCost {
  /** Wall time per `queue.publish` in a sequential loop: one round trip to the main thread each. */
  remoteMicros: number;
  /** CPU (every thread of this process) per `queue.publish`. */
  remoteCpuMicros: number;
  /** Wall time per `json.encode`, which never leaves the worker: the floor of any module call. */
  localMicros: number;
}

export async function measureLuaBoundary(calls: number): Promise<BoundaryCost> {
  const root = path.join(REPO_ROOT, "test/fixtures/lua/bench");
  const services = new TestServices([], ["app:tasks_queue"]);
  const entry = luaEntry("function.lua", "boundary", root, { source: "file://boundary.lua", method: "remote", modules: ["queue", "json"] });
  const component = functionLua.create({ ...entry, kind: functionLua.kind }, buildContext(root, services)) as Component & CallableComponent;
  await component.start!();
  const here = luaEntry("function.lua", "boundary_here", root, { source: "file://boundary.lua", method: "here", modules: ["queue", "json"] });
  const local = functionLua.create({ ...here, kind: functionLua.kind }, buildContext(root, services)) as Component & CallableComponent;
  await local.start!();
  try {
    const run = async (target: CallableComponent, n: number): Promise<{ wallMicros: number; cpuMicros: number }> => {
      const cpu = process.cpuUsage();
      const started = performance.now();
      const result = await target.callable().call([n]);
      if (result.error) throw result.error;
      const wallMicros = ((performance.now() - started) * 1000) / n;
      const used = process.cpuUsage(cpu);
      services.published.length = 0;
      return { wallMicros, cpuMicros: (used.user + used.system) / n };
    };
    await run(component, Math.min(calls, 5000)); // warm up
    await run(local, Math.min(calls, 5000));
    const remote = await run(component, calls);
    const localRun = await run(local, calls);
    return { remoteMicros: remote.wallMicros, remoteCpuMicros: remote.cpuMicros, localMicros: localRun.wallMicros };
  } finally {
    await component.stop?.();
    await local.stop?.();
  }
}
