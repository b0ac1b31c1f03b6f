/** What `taskrt run` tells an operator at start about the app's dashboard: where it is and who may open it. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startChildApp } from "./support/child-app.ts";
import { temporaryDirectory } from "./helpers.ts";

describe("taskrt run: the dashboard at start", () => {
  for (const [name, env, access] of [
    ["without a token", { TASKRT_DASHBOARD_TOKEN: "" }, "loopback clients only \\(set TASKRT_DASHBOARD_TOKEN for a bearer token\\)"],
    ["with a token", { TASKRT_DASHBOARD_TOKEN: "s3cret" }, "bearer token from TASKRT_DASHBOARD_TOKEN"],
  ] as const) {
    test(`${name}, the start-up lines give its address and who may open it`, async () => {
      const temporary = temporaryDirectory();
      const child = await startChildApp({ databaseFile: path.join(temporary.directory, "tasks.db"), env });
      try {
        const port = new URL(child.url).port;
        assert.match(child.stderr(), new RegExp(`\\n  dashboard at http://127\\.0\\.0\\.1:${port}/dashboard/: ${access}\\nready in \\d+ms`));
      } finally {
        await child.terminate();
        temporary.remove();
      }
    });
  }
});
