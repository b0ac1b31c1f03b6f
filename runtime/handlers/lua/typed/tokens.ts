/**
 * @module handlers/lua/typed/tokens — splits Lua 5.4 source (with Wippy's type syntax) into tokens
 * carrying their offsets: long strings and comments, escapes, numerals, and the extra symbols the
 * type syntax uses (`->`, `?`, `!`, `@`). Comments and whitespace produce no token.
 */
import { LuaSyntaxError } from "./syntax-error.ts";

export type TokenType = "name" | "keyword" | "number" | "string" | "symbol" | "eof";

export interface Token {
  type: TokenType;
  /** The text as written (a string token keeps its quotes). */
  text: string;
  start: number;
  end: number;
}

const KEYWORDS = new Set([
  "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
  "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
]);

/** Longest first: a three-character symbol is tried before its two-character prefix. */
const SYMBOLS = ["...", "..", "==", "~=", "<=", ">=", "<<", ">>", "//", "::", "->"];
const SINGLE = new Set("+-*/%^#&~|<>=(){}[];:,.!?@");

const isDigit = (c: string): boolean => c >= "0" && c <= "9";
const isNameStart = (c: string): boolean => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c === "_";
const isNameChar = (c: string): boolean => isNameStart(c) || isDigit(c);

export function tokenize(code: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  const fail = (offset: number, message: string): never => {
    throw LuaSyntaxError.at(code, offset, message);
  };

  /** `[==[` at `at`: the number of `=`, or -1 when it is not a long bracket. */
  const longBracketLevel = (from: number): number => {
    let cursor = from + 1;
    while (code[cursor] === "=") cursor++;
    return code[cursor] === "[" ? cursor - from - 1 : -1;
  };
  const skipLong = (from: number, level: number, what: string): number => {
    const close = `]${"=".repeat(level)}]`;
    const found = code.indexOf(close, from + level + 2);
    if (found < 0) fail(code.length, `unfinished long ${what} near <eof>`);
    return found + close.length;
  };

  // A first line starting with # (a shebang) is skipped, as lua does.
  if (code.startsWith("#")) while (at < code.length && code[at] !== "\n") at++;

  while (at < code.length) {
    const c = code[at];
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v") {
      at++;
      continue;
    }
    const start = at;
    if (c === "-" && code[at + 1] === "-") {
      if (code[at + 2] === "[") {
        const level = longBracketLevel(at + 2);
        if (level >= 0) {
          at = skipLong(at + 2, level, "comment");
          continue;
        }
      }
      while (at < code.length && code[at] !== "\n" && code[at] !== "\r") at++;
      continue;
    }
    if (isNameStart(c)) {
      while (at < code.length && isNameChar(code[at])) at++;
      const text = code.slice(start, at);
      tokens.push({ type: KEYWORDS.has(text) ? "keyword" : "name", text, start, end: at });
      continue;
    }
    if (isDigit(c) || (c === "." && isDigit(code[at + 1] ?? ""))) {
      at = readNumeral(code, at, fail);
      tokens.push({ type: "number", text: code.slice(start, at), start, end: at });
      continue;
    }
    if (c === '"' || c === "'") {
      at = readShortString(code, at, fail);
      tokens.push({ type: "string", text: code.slice(start, at), start, end: at });
      continue;
    }
    if (c === "[") {
      const level = longBracketLevel(at);
      if (level >= 0) {
        at = skipLong(at, level, "string");
        tokens.push({ type: "string", text: code.slice(start, at), start, end: at });
        continue;
      }
    }
    const symbol = SYMBOLS.find((candidate) => code.startsWith(candidate, at)) ?? (SINGLE.has(c) ? c : undefined);
    if (symbol === undefined) fail(at, `unexpected symbol near '${c}'`);
    at += symbol!.length;
    tokens.push({ type: "symbol", text: symbol!, start, end: at });
  }
  tokens.push({ type: "eof", text: "<eof>", start: code.length, end: code.length });
  return tokens;
}

/** As lua's read_numeral: digits, a point, an exponent with its sign; a letter stuck to it is malformed. */
function readNumeral(code: string, from: number, fail: (offset: number, message: string) => never): number {
  let at = from;
  let exponent = "Ee";
  if (code[at] === "0" && (code[at + 1] === "x" || code[at + 1] === "X")) {
    at += 2;
    exponent = "Pp";
  }
  for (;;) {
    const c = code[at] ?? "";
    if (exponent.includes(c) && c !== "") {
      at++;
      if (code[at] === "+" || code[at] === "-") at++;
    } else if (/[0-9A-Fa-f.]/.test(c)) {
      at++;
    } else break;
  }
  if (isNameChar(code[at] ?? "")) {
    while (isNameChar(code[at] ?? "")) at++;
    fail(from, `malformed number near '${code.slice(from, at)}'`);
  }
  const text = code.slice(from, at);
  const valid = exponent === "Pp" ? /^0[xX]([0-9A-Fa-f]*\.?[0-9A-Fa-f]*)([pP][+-]?\d+)?$/ : /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  if (!valid.test(text) || text === "0x" || text === "0X") fail(from, `malformed number near '${text}'`);
  return at;
}

function readShortString(code: string, from: number, fail: (offset: number, message: string) => never): number {
  const quote = code[from];
  let at = from + 1;
  for (;;) {
    const c = code[at];
    if (c === undefined) fail(code.length, `unfinished string near <eof>`);
    if (c === "\n" || c === "\r") fail(at, `unfinished string near '${code.slice(from, at)}'`);
    if (c === quote) return at + 1;
    if (c === "\\") {
      const next = code[at + 1];
      if (next === undefined) fail(code.length, "unfinished string near <eof>");
      if (next === "\r" && code[at + 2] === "\n") at++;
      at += 2;
      continue;
    }
    at++;
  }
}
