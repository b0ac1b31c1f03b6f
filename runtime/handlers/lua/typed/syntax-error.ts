/**
 * @module handlers/lua/typed/syntax-error — a syntax error in Lua source, located by line and column
 * (both from 1; a column counts characters), worded as lua words its own.
 */
export class LuaSyntaxError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    readonly reason: string,
  ) {
    super(`${line}:${column}: ${reason}`);
    this.name = "LuaSyntaxError";
  }

  /** The error at `offset` of `code`; a line ends at \n, \r\n or a lone \r, as lua counts them. */
  static at(code: string, offset: number, reason: string): LuaSyntaxError {
    let line = 1;
    let lineStart = 0;
    for (let at = 0; at < offset && at < code.length; at++) {
      const c = code[at];
      if (c === "\n" || (c === "\r" && code[at + 1] !== "\n")) {
        line++;
        lineStart = at + 1;
      }
    }
    return new LuaSyntaxError(line, offset - lineStart + 1, reason);
  }
}
