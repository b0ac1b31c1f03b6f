import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { TaskrtError } from "./errors.ts";
import { createLogger } from "./logger.ts";

function capture(format: "json" | "text"): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger({ format, level: "debug", sink: { write: (line) => void lines.push(line) } }) };
}

describe("logger", () => {
  test("an error field keeps its stack, and its code and hint beside it", () => {
    const { lines, logger } = capture("json");
    const error = new TaskrtError("E_DB_UNAVAILABLE", "database app:db is not running", { hint: "fix it, then restart" });
    logger.forEntry("app:worker").error("call failed", { error });
    const record = JSON.parse(lines[0]) as Record<string, unknown>;
    assert.equal(record.entry, "app:worker");
    assert.match(String(record.error), /^TaskrtError: database app:db is not running\n\s+at /);
    assert.equal(record.error_code, "E_DB_UNAVAILABLE");
    assert.equal(record.error_hint, "fix it, then restart");
  });

  test("a plain error gets no code or hint fields; a driver's code (pg's SQLSTATE) is kept", () => {
    const { lines, logger } = capture("json");
    logger.warn("plain", { error: new Error("boom") });
    logger.warn("driver", { cause: Object.assign(new Error('database "x" does not exist'), { code: "3D000" }) });
    const [plain, driver] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(Object.keys(plain).sort(), ["error", "level", "msg", "time"]);
    assert.equal(driver.cause_code, "3D000");
  });

  test("text lines carry the code and hint too", () => {
    const { lines, logger } = capture("text");
    logger.error("call failed", { error: new TaskrtError("E_TIMEOUT", "too slow", { hint: "raise start_timeout" }) });
    assert.match(lines[0], / error_code=E_TIMEOUT error_hint=raise start_timeout\n$/);
  });
});
