import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { presentTask, taskJson } from "../app/tasks.ts";

// GET /tasks writes each task around its stored JSON instead of parsing and re-serialising it:
// the text must be what the parsed form serialises to, key for key.
describe("a task as GET /tasks writes it", () => {
  const rows: Record<string, unknown>[] = [
    {
      id: "01890a5d-ac96-774b-bcce-b302099a8057",
      action: "uppercase",
      payload: JSON.stringify({ id: "01890a5d-ac96-774b-bcce-b302099a8057", action: "uppercase", data: { text: "héllo \"wörld\"\n" }, created_at: 1 }),
      status: "completed",
      result: JSON.stringify({ output: "HÉLLO \"WÖRLD\"\n" }),
      error: null,
      attempts: 1,
      created_at: 1_700_000_000_000,
      updated_at: 1_700_000_000_500,
      processed_at: 1_700_000_000_500,
    },
    {
      id: "01890a5d-ac96-774b-bcce-b302099a8058",
      action: "fail",
      payload: JSON.stringify({ id: "x", action: "fail", data: {}, created_at: 2 }),
      status: "queued",
      result: null,
      error: "action 'fail' always fails (attempt 1)",
      attempts: 1,
      created_at: 2,
      updated_at: 3,
      processed_at: undefined,
    },
  ];

  test("is exactly JSON.stringify of the parsed form, nulls and escapes included", () => {
    for (const row of rows) assert.equal(taskJson(row), JSON.stringify(presentTask(row)));
  });

  test("parses back to the same task", () => {
    for (const row of rows) assert.deepEqual(JSON.parse(taskJson(row)), presentTask(row));
  });
});
