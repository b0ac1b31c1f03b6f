/**
 * @module http/json-body — the checks a JSON request body passes before anything parses it: valid
 * UTF-8 (never silently replaced by U+FFFD) and nesting no deeper than the server's
 * `max_json_depth`, which keeps recursive consumers (JSON.stringify, schema validation, the Lua
 * value conversion) from running out of stack on a hostile body.
 */
import { isUtf8 } from "node:buffer";

export const INVALID_UTF8 = "invalid UTF-8 in request body";

const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export function tooDeepMessage(maxDepth: number): string {
  return `JSON in request body nested deeper than ${maxDepth} levels (max_json_depth)`;
}

/** What is wrong with the body as JSON text, or `undefined` when it may be parsed. */
export function jsonBodyProblem(body: Uint8Array, maxDepth: number): string | undefined {
  if (!isUtf8(body)) return INVALID_UTF8;
  // Nesting deeper than maxDepth needs more than maxDepth bytes: small bodies skip the scan.
  if (body.byteLength > maxDepth && nestsDeeperThan(body, maxDepth)) return tooDeepMessage(maxDepth);
  return undefined;
}

/**
 * One pass over the bytes, brackets counted outside strings; no recursion, so no depth can break
 * it. Malformed JSON is left to the parser: only the nesting is judged here.
 */
function nestsDeeperThan(body: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < body.length; index++) {
    const byte = body[index];
    if (inString) {
      if (byte === BACKSLASH) index++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      if (++depth > maxDepth) return true;
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/** `application/json` and the `+json` types (`application/problem+json`), any parameters. */
export function declaresJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semicolon = contentType.indexOf(";");
  const type = (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  return type === "application/json" || type.endsWith("+json");
}
