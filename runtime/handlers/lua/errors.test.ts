import { test } from "node:test";
import assert from "node:assert/strict";
import { TaskrtError } from "../../errors.ts";
import { errorKind, toLuaError } from "./errors.ts";

test("TaskrtError codes map to Wippy's error kinds; anything else is INTERNAL", () => {
  const kinds = Object.fromEntries(
    ["E_NO_HTTP_CONTEXT", "E_INVALID_JSON", "E_NO_BODY", "E_NO_DELIVERY", "E_ALREADY_SETTLED", "E_DB_NOT_FOUND", "E_QUEUE_NOT_FOUND",
      "E_DB_UNAVAILABLE", "E_INVALID_MESSAGE", "E_SQL", "E_JSON", "E_DURATION", "E_CANCELED", "E_SOMETHING_TIMEOUT", "E_WHATEVER"].map((code) => [
      code,
      errorKind(new TaskrtError(code, "x")),
    ]),
  );
  assert.deepEqual(kinds, {
    E_NO_HTTP_CONTEXT: "INTERNAL",
    E_INVALID_JSON: "INVALID",
    E_NO_BODY: "INVALID",
    E_NO_DELIVERY: "INVALID",
    E_ALREADY_SETTLED: "INVALID",
    E_DB_NOT_FOUND: "NOT_FOUND",
    E_QUEUE_NOT_FOUND: "NOT_FOUND",
    E_DB_UNAVAILABLE: "UNAVAILABLE",
    E_INVALID_MESSAGE: "INVALID",
    E_SQL: "INTERNAL",
    E_JSON: "INTERNAL",
    E_DURATION: "INVALID",
    E_CANCELED: "CANCELED",
    E_SOMETHING_TIMEOUT: "TIMEOUT",
    E_WHATEVER: "INTERNAL",
  });
  assert.equal(errorKind(new Error("bug")), "INTERNAL");
});

test("a thrown value becomes a non-retryable Lua error value carrying its message and position", () => {
  assert.deepEqual({ ...toLuaError(new TaskrtError("E_DB_NOT_FOUND", "database app:x not found"), "a.lua:3:") }, {
    message: "database app:x not found",
    kind: "NOT_FOUND",
    retryable: false,
    where: "a.lua:3:",
  });
  assert.equal(toLuaError("plain").message, "plain");
});
