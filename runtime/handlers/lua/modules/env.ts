/**
 * @module handlers/lua/modules/env — Lua's `env` module (Wippy's API) over the TypeScript `env`
 * module: `env.get(name)` → `value` or `nil, err` (NOT_FOUND); `env.set(name, value)` → `true`
 * or `nil, err` (PERMISSION_DENIED for a read-only variable); `env.get_all()` → a table.
 */
import { env } from "../../../modules/env.ts";
import { defineLuaModule } from "../module.ts";
import type { NativeFunction } from "../native.ts";

const ENV: Record<string, NativeFunction> = {
  get: (args) => env.get(args.string(1)).then((value) => [value]),
  set: (args) => env.set(args.string(1), args.string(2)).then(() => [true]),
  get_all: () => env.getAll().then((values) => [values]),
};

export default defineLuaModule("env", () => ENV);
