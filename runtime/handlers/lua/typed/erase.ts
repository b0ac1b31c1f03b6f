/**
 * @module handlers/lua/typed/erase — turns Wippy's typed Lua into plain Lua 5.4 by overwriting every
 * type with spaces: newlines stay, so every line and column of what remains is where it was written,
 * and lua's messages point into the file as the user sees it. Untyped code comes back unchanged.
 */
import { findTypeSpans } from "./parse.ts";

export { LuaSyntaxError } from "./syntax-error.ts";

/** The code with its type syntax blanked. Throws LuaSyntaxError, located, for code that does not parse. */
export function eraseTypes(code: string): string {
  const spans = findTypeSpans(code);
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
