/**
 * @module handlers/lua/modules/io — Lua's `io` module (Wippy's terminal I/O, which replaces Lua's
 * own `io` library) over the TypeScript `io` module: `io.write(…)`, `io.print(…)`,
 * `io.eprint(…)` → `true`; `io.readline()` → the line, or `nil, err` at the end of the input;
 * `io.read(n)`, `io.flush()`, `io.args()`. Values are written as `tostring` shows them.
 */
import { TaskrtError } from "../../../errors.ts";
import { io } from "../../../modules/io.ts";
import { defineLuaModule } from "../module.ts";
import type { LuaArguments, NativeFunction } from "../native.ts";
import { LUA_TYPE } from "../wasm.ts";

/** The arguments as Lua's tostring shows plain values. */
function texts(args: LuaArguments): string[] {
  const values: string[] = [];
  for (let position = 1; position <= args.count; position++) {
    const type = args.type(position);
    if (type === LUA_TYPE.STRING || type === LUA_TYPE.NUMBER) values.push(args.string(position));
    else if (type === LUA_TYPE.BOOLEAN) values.push(String(args.value(position)));
    else if (type === LUA_TYPE.NIL || type === LUA_TYPE.NONE) values.push("nil");
    else values.push(args.typeName(position));
  }
  return values;
}

const endOfInput = () => new TaskrtError("E_IO_EOF", "io: end of input");

const IO: Record<string, NativeFunction> = {
  write: (args) => io.write(...texts(args)).then(() => [true]),
  print: (args) => io.print(...texts(args)).then(() => [true]),
  eprint: (args) => io.eprint(...texts(args)).then(() => [true]),
  readline: () =>
    io.readline().then((line) => {
      if (line === undefined) throw endOfInput();
      return [line];
    }),
  read: (args) =>
    io.read(args.isNil(1) ? undefined : args.number(1)).then((data) => {
      if (data === undefined) throw endOfInput();
      return [data];
    }),
  flush: () => (io.flush(), [true]),
  args: () => [io.args()],
  raw: () => [true],
};

export default defineLuaModule("io", () => IO);
