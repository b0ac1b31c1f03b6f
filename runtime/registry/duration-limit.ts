/**
 * @module registry/duration-limit — the `maxMilliseconds` schema keyword: the longest duration a
 * field accepts. Written as code (not a validate function) so that taskrt's own kind validators
 * can be compiled ahead of time (standalone-validators.ts), where the check is this module's
 * `withinDuration`, imported by name.
 */
import { _, type CodeKeywordDefinition } from "ajv";
import { parseDuration } from "../duration.ts";

/** True unless `data` is a duration longer than `limit` ms; a value that is no duration at all is the pattern's to report. */
export function withinDuration(data: unknown, limit: number): boolean {
  if (typeof data !== "string" && typeof data !== "number") return true;
  try {
    return parseDuration(data) <= limit;
  } catch {
    return true;
  }
}

export const durationLimitKeyword: CodeKeywordDefinition = {
  keyword: "maxMilliseconds",
  schemaType: "number",
  code(context) {
    const check = context.gen.scopeValue("func", { ref: withinDuration, code: _`withinDuration` });
    context.fail(_`!${check}(${context.data}, ${context.schema})`);
  },
};
