/**
 * @module handlers/lua/typed/erase — turns Wippy's typed Lua into plain Lua 5.4 by overwriting every
 * type with spaces: newlines stay, so every line and column of what remains is where it was written,
 * and lua's messages point into the file as the user sees it. Untyped code comes back unchanged.
 */
import { parseTypedLua, type TypeSpans } from "./parse.ts";
import { LuaSyntaxError } from "./syntax-error.ts";

export { LuaSyntaxError };

/** A name the code uses (a module it requires, a type it reads as a value), located. */
export interface RequiredModule {
  name: string;
  line: number;
  column: number;
}

/** The code with its type syntax blanked. Throws LuaSyntaxError, located, for code that does not parse. */
export function eraseTypes(code: string): string {
  return blank(code, parseTypedLua(code).spans);
}

/** The plain Lua of typed code, the modules it requires by name, and the types it uses as values. Throws LuaSyntaxError. */
export function prepareLua(code: string): { code: string; requires: RequiredModule[]; typeValues: RequiredModule[] } {
  const { spans, requires, typeValues } = parseTypedLua(code);
  const locate = ({ name, offset }: { name: string; offset: number }): RequiredModule => {
    const { line, column } = LuaSyntaxError.at(code, offset, "");
    return { name, line, column };
  };
  return { code: blank(code, spans), requires: requires.map(locate), typeValues: typeValues.map(locate) };
}

function blank(code: string, spans: TypeSpans): string {
  if (spans.length === 0) return code;
  let erased = "";
  let at = 0;
  // A declaration's span encloses the spans of its parts, which were found first.
  for (const [start, end] of [...spans].sort((left, right) => left[0] - right[0])) {
    const from = Math.max(start, at);
    if (end <= from) continue;
    erased += code.slice(at, from) + code.slice(from, end).replace(/[^\r\n]/g, " ");
    at = end;
  }
  return erased + code.slice(at);
}
