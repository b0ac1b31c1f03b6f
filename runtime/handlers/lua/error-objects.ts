/**
 * @module handlers/lua/error-objects — Lua error objects on the stack: building one from a
 * LuaErrorValue, recognising one (its metatable is the prelude's `Error`), and reading its fields.
 * Field reads are raw, so no Lua code runs while JavaScript inspects a value.
 */
import type { LuaErrorValue } from "./errors.ts";
import { pushReference } from "./values.ts";
import { LUA_TYPE, type LuaWasm } from "./wasm.ts";

export class LuaErrorObjects {
  constructor(
    private readonly wasm: LuaWasm,
    /** Registry reference of the prelude's `Error` metatable. */
    private readonly metatable: number,
  ) {}

  push(L: number, value: LuaErrorValue): void {
    const { wasm } = this;
    const api = wasm.api;
    api._lua_createtable(L, 0, 4);
    wasm.pushString(L, value.message);
    api._lua_setfield(L, -2, wasm.cString("_message"));
    wasm.pushString(L, value.kind);
    api._lua_setfield(L, -2, wasm.cString("_kind"));
    api._lua_pushboolean(L, value.retryable ? 1 : 0);
    api._lua_setfield(L, -2, wasm.cString("_retryable"));
    if (value.where) {
      wasm.pushString(L, value.where);
      api._lua_setfield(L, -2, wasm.cString("_where"));
    }
    pushReference(wasm, L, this.metatable);
    api._lua_setmetatable(L, -2);
  }

  is(L: number, index: number): boolean {
    const api = this.wasm.api;
    if (api._lua_type(L, index) !== LUA_TYPE.TABLE) return false;
    const absolute = api._lua_absindex(L, index);
    if (api._lua_getmetatable(L, absolute) === 0) return false;
    pushReference(this.wasm, L, this.metatable);
    const same = api._lua_rawequal(L, -1, -2) !== 0;
    api._lua_settop(L, -3);
    return same;
  }

  message(L: number, index: number): string {
    return this.field(L, index, "_message") ?? "";
  }

  /** `file.lua:12:` of the line whose call produced it, when known. */
  where(L: number, index: number): string | undefined {
    return this.field(L, index, "_where");
  }

  /** `file.lua:12: message`, or the message alone. */
  describe(L: number, index: number): string {
    const where = this.where(L, index);
    return where ? `${where} ${this.message(L, index)}` : this.message(L, index);
  }

  private field(L: number, index: number, field: string): string | undefined {
    const { wasm } = this;
    const api = wasm.api;
    const absolute = api._lua_absindex(L, index);
    wasm.pushString(L, field);
    api._lua_rawget(L, absolute);
    const value = api._lua_type(L, -1) === LUA_TYPE.STRING ? wasm.readString(L, -1) : undefined;
    api._lua_settop(L, -2);
    return value;
  }
}
