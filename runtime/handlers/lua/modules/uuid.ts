/**
 * @module handlers/lua/modules/uuid — Lua's `uuid` module (Wippy's API) over the TypeScript `uuid` module.
 */
import { uuid } from "../../../modules/uuid.ts";
import { defineLuaModule } from "../module.ts";
import type { NativeFunction } from "../native.ts";

const UUID: Record<string, NativeFunction> = {
  v4: () => [uuid.v4()],
  v7: () => [uuid.v7()],
  validate: (args) => [uuid.validate(args.value(1, { strict: false }))],
};

export default defineLuaModule("uuid", () => UUID);
