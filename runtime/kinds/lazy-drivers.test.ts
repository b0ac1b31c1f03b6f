import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const moduleUrl = (relative: string): string => pathToFileURL(path.join(ROOT, relative)).href;

/**
 * Runs `body` in a fresh process (module caches start empty there) and reports which of pg and
 * amqplib it loaded. Both are CommonJS, so even an ESM import of them lands in the require cache.
 */
async function packagesLoadedBy(body: string): Promise<{ pg: boolean; amqplib: boolean }> {
  const script = `
    import { createRequire } from "node:module";
    ${body}
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    const has = (name) => loaded.some((file) => file.includes("/node_modules/" + name + "/"));
    console.log(JSON.stringify({ pg: has("pg"), amqplib: has("amqplib") }));
  `;
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const { stdout } = await promisify(execFile)(process.execPath, ["--conditions=taskrt-source", "--import", "tsx", "--input-type=module", "-e", script], { cwd: ROOT, env });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as { pg: boolean; amqplib: boolean };
}

test("running the SQLite app (validate, start, stop) loads neither pg nor amqplib", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "taskrt-lazy-"));
  try {
    const loaded = await packagesLoadedBy(`
      await import(${JSON.stringify(moduleUrl("runtime/kinds/index.ts"))});
      const { startRuntime } = await import(${JSON.stringify(moduleUrl("runtime/runtime.ts"))});
      const { createLogger } = await import(${JSON.stringify(moduleUrl("runtime/logger.ts"))});
      const runtime = await startRuntime({
        path: "app/_index.yaml",
        overrides: ["app:gateway:addr=127.0.0.1:0", ${JSON.stringify(`app:db:file=${path.join(dir, "tasks.db")}`)}],
        logger: createLogger({ sink: { write() {} } }),
      });
      await runtime.stop();
    `);
    assert.deepEqual(loaded, { pg: false, amqplib: false });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the probe sees pg and amqplib once their drivers are imported", async () => {
  const loaded = await packagesLoadedBy(`
    await import(${JSON.stringify(moduleUrl("runtime/drivers/sql/postgres.ts"))});
    await import(${JSON.stringify(moduleUrl("runtime/drivers/queue/amqp.ts"))});
  `);
  assert.deepEqual(loaded, { pg: true, amqplib: true });
});
