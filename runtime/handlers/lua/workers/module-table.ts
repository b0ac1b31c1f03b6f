/**
 * @module handlers/lua/workers/module-table — the Lua modules as the main thread serves them to
 * workers: every module function and class method by a key (`sql.get`, `sql.DB:query`), and
 * each module's shape (its constants, with markers where its functions and objects are), from
 * which a worker builds stubs.
 */
import { LUA_NULL } from "../engine.ts";
import { LUA_CLASSES, LuaHandle } from "../handles.ts";
import { LUA_MODULES } from "../modules/index.ts";
import type { NativeFunction } from "../native.ts";
import { MARK, NULL_WIRE } from "../wire.ts";
import type { ClassShape } from "./protocol.ts";

export interface ModuleTable {
  functions: ReadonlyMap<string, NativeFunction>;
  /** The modules' own objects (the root logger), by their negative handle ids. */
  staticHandles: ReadonlyMap<number, LuaHandle>;
  shapes: Record<string, unknown>;
  classes: ClassShape[];
}

let table: ModuleTable | undefined;

export function moduleTable(): ModuleTable {
  table ??= buildModuleTable();
  return table;
}

function buildModuleTable(): ModuleTable {
  const functions = new Map<string, NativeFunction>();
  const staticHandles = new Map<number, LuaHandle>();
  const shapeOf = (value: unknown, path: string): unknown => {
    if (typeof value === "function") {
      functions.set(path, value as NativeFunction);
      return { [MARK]: "f" };
    }
    if (value === null || typeof value !== "object") return value;
    if (value === LUA_NULL) return NULL_WIRE;
    if (value instanceof LuaHandle) {
      const id = -(staticHandles.size + 1);
      staticHandles.set(id, value);
      return { [MARK]: "h", id, c: value.luaClass.name };
    }
    const shape: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) shape[key] = shapeOf(item, `${path}.${key}`);
    return shape;
  };
  const shapes: Record<string, unknown> = {};
  for (const [name, module] of LUA_MODULES) shapes[name] = shapeOf(module.create(), name);
  const classes: ClassShape[] = [];
  for (const luaClass of LUA_CLASSES.values()) {
    classes.push({ name: luaClass.name, methods: Object.keys(luaClass.methods) });
    for (const [method, fn] of Object.entries(luaClass.methods)) functions.set(`${luaClass.name}:${method}`, fn);
  }
  return { functions, staticHandles, shapes, classes };
}
