/** What `taskrt run` tells an operator at start about the app's dashboard: where it is and who may open it. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startChildApp, type ChildApp } from "./support/child-app.ts";
import { temporaryDirectory } from "./helpers.ts";

async function withChildApp(env: Record<string, string>, check: (child: ChildApp, port: string) => Promise<void>): Promise<void> {
  const temporary = temporaryDirectory();
  const child = await startChildApp({ databaseFile: path.join(temporary.directory, "tasks.db"), env });
  try {
    await check(child, new URL(child.url).port);
  } finally {
    await child.terminate();
    temporary.remove();
  }
}

describe("taskrt run: the dashboard at start", () => {
  test("without a token, the start-up lines give an address carrying a generated token, which opens the API; the log never shows it", () =>
    withChildApp({ TASKRT_DASHBOARD_TOKEN: "" }, async (child, port) => {
      const line = new RegExp(`\\n  dashboard at (http://127\\.0\\.0\\.1:${port}/dashboard/#token=([A-Za-z0-9_-]{32})): token generated at start \\(set TASKRT_DASHBOARD_TOKEN to choose one\\)\\nready in \\d+ms`);
      const printed = line.exec(child.stderr());
      assert.ok(printed, child.stderr());
      const [, address, token] = printed;
      const api = new URL("api/overview", address);
      assert.equal((await fetch(api)).status, 401);
      assert.equal((await fetch(api, { headers: { authorization: `Bearer ${token}` } })).status, 200);
      assert.ok(!child.stdout().includes(token), "the generated token is in a log line");
      assert.ok(
        child.logRecords().some((record) => String(record.msg).includes("TASKRT_DASHBOARD_TOKEN is unset, so the API asks for a token generated at start")),
        child.stdout(),
      );
    }));

  test("with a token, the start-up lines give its address and the variable, never the token", () =>
    withChildApp({ TASKRT_DASHBOARD_TOKEN: "s3cret" }, async (child, port) => {
      assert.match(child.stderr(), new RegExp(`\\n  dashboard at http://127\\.0\\.0\\.1:${port}/dashboard/: bearer token from TASKRT_DASHBOARD_TOKEN\\nready in \\d+ms`));
      assert.ok(!`${child.stderr()}${child.stdout()}`.includes("s3cret"));
    }));
});
