/**
 * @module handlers/lua/modules/json — Lua's `json` module (Wippy's API) over the TypeScript `json`
 * module: `encode` follows the Lua value rules (an empty table is `[]`), `decode` wants a string.
 */
import { TaskrtError } from "../../../errors.ts";
import { json } from "../../../modules/json.ts";
import { defineLuaModule } from "../module.ts";
import type { NativeFunction } from "../native.ts";
import { LUA_TYPE } from "../wasm.ts";

const JSON_MODULE: Record<string, NativeFunction> = {
  encode: (args) => [json.encode(args.value(1))],
  decode: (args) => {
    // Wippy's own checks, which come before parsing: a body already decoded (a table) is a mistake worth naming.
    if (args.type(1) !== LUA_TYPE.STRING) throw new TaskrtError("E_LUA_ARGUMENT", "string expected");
    const text = args.string(1);
    if (text === "") throw new TaskrtError("E_LUA_ARGUMENT", "empty input: a JSON text is expected");
    return [json.decode(text)];
  },
};

export default defineLuaModule("json", () => JSON_MODULE);
