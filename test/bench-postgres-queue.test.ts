import { test } from "node:test";
import assert from "node:assert/strict";
import { takePostgresQueueOption } from "../bench/scenarios/postgres-queue.ts";

test("--only postgres-queue alone asks for that scenario and no other", () => {
  assert.deepEqual(takePostgresQueueOption(["--quick", "--only", "postgres-queue"]), { argv: ["--quick"], requested: true, alone: true });
});

test("--only postgres-queue beside other scenarios leaves them to the usual parser", () => {
  assert.deepEqual(takePostgresQueueOption(["--only", "drain,postgres-queue", "--out", "x.md"]), {
    argv: ["--only", "drain", "--out", "x.md"],
    requested: true,
    alone: false,
  });
  assert.deepEqual(takePostgresQueueOption(["--only", "postgres-queue", "--only", "scale-out"]), { argv: ["--only", "scale-out"], requested: true, alone: false });
});

test("without it in --only, the arguments pass through unchanged and it does not run", () => {
  assert.deepEqual(takePostgresQueueOption(["--quick", "--only", "startup"]), { argv: ["--quick", "--only", "startup"], requested: false, alone: false });
});
