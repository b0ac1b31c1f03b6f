/**
 * @module handlers/lua/measure-calls — calls per second of the same trivial handler written in Lua
 * and in TypeScript, through the same path an endpoint or consumer uses (`callable().call`).
 * Run: `node --import tsx runtime/handlers/lua/measure-calls.ts`.
 */
import path from "node:path";
import functionLua from "../../kinds/function-lua.ts";
import functionTs from "../../kinds/function-ts.ts";
import type { Component } from "../../kinds/kind.ts";
import type { CallableComponent } from "../handler.ts";
import { buildContext, luaEntry } from "./test-support.ts";

const root = path.resolve("test/fixtures/lua/bench");
const task = { id: "0b6c8a52-6a34-4d4e-9d0e-2f1f8f0f6c11", action: "uppercase", data: { text: "hello world" }, created_at: 1_700_000_000 };
const CALLS = 200_000;

async function start(kind: "lua" | "ts", method: string): Promise<Component & CallableComponent> {
  const entry = luaEntry("function.lua", `bench_${kind}_${method}`, root, { source: `file://trivial.${kind}`, method, modules: ["json"] });
  const definition = kind === "lua" ? functionLua : functionTs;
  const component = definition.create({ ...entry, kind: definition.kind }, buildContext(root)) as Component & CallableComponent;
  await component.start!();
  return component;
}

async function measure(label: string, component: CallableComponent, concurrency: number): Promise<void> {
  const callable = component.callable();
  for (let index = 0; index < 20_000; index++) await callable.call([task]); // warm up
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < CALLS) {
        const result = await callable.call([task]);
        if (result.error) throw result.error;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(`${label.padEnd(34)} concurrency ${String(concurrency).padStart(2)}: ${Math.round(CALLS / seconds).toLocaleString("en")} calls/s`);
}

for (const method of ["handler", "encode"]) {
  for (const kind of ["ts", "lua"] as const) {
    const component = await start(kind, method);
    await measure(`${kind === "lua" ? "Lua" : "TypeScript"} ${method === "handler" ? "return true" : "json.encode(task)"}`, component, 1);
    await measure(`${kind === "lua" ? "Lua" : "TypeScript"} ${method === "handler" ? "return true" : "json.encode(task)"}`, component, 50);
    await component.stop?.();
  }
}
