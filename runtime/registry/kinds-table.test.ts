import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { KINDS_TABLE_BANNER, renderKindsTable } from "./kinds-table.ts";
import { projectSchemas, SchemaSet } from "./schemas.ts";

describe("renderKindsTable", () => {
  const table = renderKindsTable();
  const lines = table.split("\n");

  test("opens with the do-not-edit banner and lists every kind with its description", () => {
    assert.equal(lines[0], KINDS_TABLE_BANNER);
    for (const kind of projectSchemas().kinds()) {
      assert.ok(lines.includes(`| \`${kind}\` | ${projectSchemas().kind(kind)!.description} |`), kind);
      assert.ok(lines.includes(`### \`${kind}\``), kind);
    }
  });

  test("rows give type, default or required, limits and description, straight from the schema", () => {
    assert.ok(lines.includes("| `concurrency` | integer | `1` | 1–1000 | Handlers running at once. |"));
    assert.ok(lines.includes("| `queue` | string | **required** | non-empty | The queue.queue entry to consume. |"));
    assert.ok(lines.includes("| `meta.router` | string | **required** | non-empty | The http.router this endpoint belongs to. |"));
    assert.ok(lines.includes('| `busy_timeout` | duration | `"5s"` | ≤ 596h31m23.647s | How long a statement waits for a lock held by another connection. |'));
    assert.ok(lines.includes('| `synchronous` | string | `"NORMAL"` | one of `OFF`, `NORMAL`, `FULL`, `EXTRA` | PRAGMA synchronous for this connection. |'));
    assert.ok(lines.includes('| `timeouts.read` | duration | `"30s"` | ≤ 596h31m23.647s | Whole request must arrive within this; 0 disables. A connection that sends nothing is closed after it (plus at most 1 s). |'));
    assert.ok(lines.includes("| `dead_letter` | string or map |  |  | Where messages go after max_attempts: a queue id, or {queue, max_attempts, keep}; keep: true also keeps each one here as a dead letter (for the dashboard to retry or discard). |"));
  });

  test("the lifecycle block has its own table with the restart fields flattened", () => {
    assert.ok(lines.includes("### `lifecycle`"));
    assert.ok(lines.includes("| `restart.max_attempts` | integer | `0` | ≥ 0 | 0: restart without limit. |"));
    assert.ok(lines.includes("| `lifecycle` | lifecycle | `{}` |  | How the supervisor runs it: see `lifecycle`. |"));
  });

  test("pipes inside patterns are escaped so the table keeps its columns", () => {
    const method = lines.find((line) => line.startsWith("| `method` | string | **required** | matches"))!;
    assert.ok(method.includes("GET\\|POST"));
  });

  test("a kind without fields of its own says so", () => {
    const schemas = new SchemaSet(new Map([["bare.kind", { $id: "https://taskrt.dev/test/bare.kind.json", description: "Nothing.", type: "object", properties: { name: { type: "string" }, kind: { const: "bare.kind" } } }]]));
    assert.ok(renderKindsTable(schemas).includes("### `bare.kind`\n\nNothing.\n\nNo fields of its own.\n"));
  });
});
