import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { declaresJson, jsonBodyProblem } from "./json-body.ts";

const bytes = (text: string): Uint8Array => Buffer.from(text);
const nested = (depth: number): string => `${"[".repeat(depth)}${"]".repeat(depth)}`;

describe("jsonBodyProblem", () => {
  test("passes nesting up to max_json_depth and refuses one level more, naming the limit", () => {
    assert.equal(jsonBodyProblem(bytes(`{"data":${nested(7)}}`), 8), undefined);
    assert.equal(jsonBodyProblem(bytes(`{"data":${nested(8)}}`), 8), "JSON in request body nested deeper than 8 levels (max_json_depth)");
  });

  test("refuses 100,000 levels without running out of stack", () => {
    assert.equal(jsonBodyProblem(bytes(nested(100_000)), 128), "JSON in request body nested deeper than 128 levels (max_json_depth)");
  });

  test("does not count brackets inside strings, escaped quotes included", () => {
    const text = `{"a":"${"[".repeat(50)}\\"${"{".repeat(50)}","b":[1]}`;
    assert.equal(jsonBodyProblem(bytes(text), 4), undefined);
  });

  test("refuses invalid UTF-8 and passes multi-byte characters", () => {
    assert.equal(jsonBodyProblem(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 128), "invalid UTF-8 in request body");
    assert.equal(jsonBodyProblem(bytes('{"text":"héllo ☃ 🎉"}'), 128), undefined);
  });
});

describe("declaresJson", () => {
  test("recognises application/json and +json types with parameters, and nothing else", () => {
    assert.equal(declaresJson("application/json"), true);
    assert.equal(declaresJson("Application/JSON; charset=utf-8"), true);
    assert.equal(declaresJson("application/problem+json"), true);
    assert.equal(declaresJson("text/plain"), false);
    assert.equal(declaresJson("application/octet-stream"), false);
    assert.equal(declaresJson(undefined), false);
  });
});
