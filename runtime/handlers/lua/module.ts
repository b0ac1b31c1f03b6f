/**
 * @module handlers/lua/module — the shape of a Lua module wrapper: what `require(name)` returns,
 * built from native functions that call the TypeScript module of the same name.
 */
import type { ModuleName } from "../../modules/context.ts";

export interface LuaModule {
  name: ModuleName;
  /**
   * The value `require` returns, as JavaScript: an object of native functions (arrow functions
   * taking LuaArguments), constants and nested tables, or an object handle (the logger). Called
   * once per Lua state, on its first `require`; return the same constant object each time, so
   * its functions are registered once per process.
   */
  create(): unknown;
}

export function defineLuaModule(name: ModuleName, create: () => unknown): LuaModule {
  return { name, create };
}
