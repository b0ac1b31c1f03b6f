/**
 * @module handlers/lua/modules/logger — Lua's `logger` (Wippy's API) over the TypeScript `logger`
 * module: an object called with a colon, `logger:info(message, fields)`, with `:with(fields)`
 * and `:named(name)` deriving loggers that add fields to every line.
 */
import type { LogFields } from "../../../logger.ts";
import { logger } from "../../../modules/logger.ts";
import { defineLuaClass, handle, type LuaClass } from "../handles.ts";
import { defineLuaModule } from "../module.ts";
import { LuaRaise, type LuaArguments } from "../native.ts";
import { LUA_TYPE } from "../wasm.ts";

type Level = "debug" | "info" | "warn" | "error";

interface LoggerState {
  fields: LogFields | undefined;
}

/** Log fields: string keys only (others dropped, as Wippy does); error objects become their message. */
function fieldsArgument(args: LuaArguments, position: number): LogFields | undefined {
  if (args.type(position) !== LUA_TYPE.TABLE) return undefined;
  const value = args.value(position, { strict: false, emptyTable: "object" });
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  return value as LogFields;
}

function log(level: Level) {
  return (self: LoggerState, args: LuaArguments) => {
    const type = args.type(2);
    if (type !== LUA_TYPE.STRING && type !== LUA_TYPE.NUMBER) {
      throw new LuaRaise(`bad argument #1 to 'logger:${level}' (string expected, got ${args.typeName(2)})`);
    }
    const fields = fieldsArgument(args, 3);
    logger[level](args.string(2), self.fields && fields ? { ...self.fields, ...fields } : (fields ?? self.fields));
    return undefined;
  };
}

const LoggerClass: LuaClass<LoggerState> = defineLuaClass<LoggerState>("logger", "logger", {
  debug: log("debug"),
  info: log("info"),
  warn: log("warn"),
  error: log("error"),
  with: (self, args) => [handle(LoggerClass, { fields: { ...self.fields, ...fieldsArgument(args, 2) } })],
  named: (self, args) => {
    const name = args.type(2) === LUA_TYPE.STRING ? args.string(2) : "";
    if (name === "") throw new LuaRaise("bad argument #1 to 'logger:named' (a non-empty name expected)");
    return [handle(LoggerClass, { fields: { ...self.fields, logger: name } })];
  },
});

export default defineLuaModule("logger", () => handle(LoggerClass, { fields: undefined }));
