/**
 * @module test/watch — `taskrt run --watch` on a copy of the app, as a child process: tasks are
 * posted without pause while a handler is edited, and every task that got a 202 ends completed,
 * the ones accepted after the reload by the new code; a broken registry edit is refused while the
 * running version keeps serving, and fixing it reloads.
 *
 * The copy lives in test/tmp/ inside the repository, not in the system's temporary directory:
 * its handlers import "taskrt", which resolves through this package's self-reference.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const COPY = path.join(ROOT, "test", "tmp", `watch-${process.pid}`);
const APP = path.join(COPY, "app");
const REGISTRY = path.join(APP, "_index.yaml");
const HANDLER = path.join(APP, "process_task.ts");
const SHOWN = (file: string) => path.relative(ROOT, file);
const DATA = mkdtempSync(path.join(tmpdir(), "taskrt-watch-e2e-"));
const DATABASE = path.join(DATA, "tasks.db");

/** The worker's uppercase action, and the edit that marks results of the new version. */
const OLD_ACTION = `return { output: String(task.data.text ?? "").toUpperCase() };`;
const NEW_ACTION = `return { output: String(task.data.text ?? "").toUpperCase() + " (v2)" };`;
const POSTERS = 4;
const ACCEPTED_BEFORE_EDIT = 30;
const ACCEPTED_AFTER_RELOAD = 30;

let child: ChildProcess | undefined;

after(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  rmSync(COPY, { recursive: true, force: true });
  rmSync(DATA, { recursive: true, force: true });
});

interface Watched {
  url: string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stderr after `from` (a character offset). */
  waitFor(pattern: RegExp, from?: number, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

async function startWatching(): Promise<Watched> {
  const args = [path.join(ROOT, "bin", "taskrt.js"), "run", SHOWN(REGISTRY), "--watch", "-o", "app:gateway:addr=127.0.0.1:0", "-o", `app:db:file=${DATABASE}`];
  const process_ = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: "1", APP_WORK_DELAY: "20ms" }, stdio: ["ignore", "ignore", "pipe"] });
  child = process_;
  let stderr = "";
  const waiters = new Set<() => void>();
  process_.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    for (const waiter of waiters) waiter();
  });
  const exited = new Promise<number | null>((resolve) => process_.once("exit", (code) => resolve(code)));
  // Generous: a cold start on a 2-core machine shared with other test runs can take tens of seconds.
  const waitFor = (pattern: RegExp, from = 0, timeoutMs = 120_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = stderr.slice(from).match(pattern);
        if (!match) return;
        finish();
        resolve(match);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${pattern} in the output:\n${stderr}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      void exited.then(() => {
        if (!waiters.has(check)) return;
        finish();
        reject(new Error(`taskrt exited while waiting for ${pattern}:\n${stderr}`));
      });
      check();
    });
  await waitFor(/^watching \d+ files in \d+ director(y|ies): /m);
  const url = (await waitFor(/listening on (http:\/\/\S+)/))[1];
  return { url, stderr: () => stderr, waitFor, exited };
}

interface Accepted {
  id: string;
  text: string;
  /** Sent after the reload's "reloaded" line had been seen: the new version accepted and processed it. */
  afterReload: boolean;
}

/** Posts uppercase tasks from several loops until stopped; a refused connection (the reload's gap) is retried. */
function postContinuously(url: string, isAfterReload: () => boolean) {
  const accepted: Accepted[] = [];
  let refused = 0;
  let running = true;
  let counter = 0;
  const unexpected: string[] = [];
  const loop = async () => {
    while (running) {
      const text = `task ${counter++}`;
      const afterReload = isAfterReload();
      try {
        const response = await fetch(`${url}/tasks`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ action: "uppercase", data: { text } }),
        });
        const body = (await response.json()) as { id?: string };
        if (response.status === 202 && body.id) accepted.push({ id: body.id, text, afterReload });
        else unexpected.push(`${response.status} ${JSON.stringify(body)}`);
      } catch {
        // Connection refused or closed while the services restart: the task was not accepted.
        refused++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  };
  const loops = Array.from({ length: POSTERS }, loop);
  return {
    accepted,
    unexpected,
    refused: () => refused,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function until(check: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Saves as editors do: a temporary file renamed over the original. The watcher then sees the whole
 * new content at once; a plain write can be seen truncated first when this process is preempted
 * between the truncate and the write, which reloads twice.
 */
function save(file: string, text: string): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

async function postOne(url: string, text: string): Promise<{ status: number; id?: string }> {
  const response = await fetch(`${url}/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ action: "uppercase", data: { text } }) });
  const body = (await response.json()) as { id?: string };
  return { status: response.status, id: body.id };
}

function taskRows(ids: readonly string[]): Map<string, { status: string; result: string | null }> {
  const database = new Database(DATABASE, { readonly: true, fileMustExist: true });
  try {
    const select = database.prepare("SELECT status, result FROM tasks WHERE id = ?");
    return new Map(ids.map((id) => [id, select.get(id) as { status: string; result: string | null }]));
  } finally {
    database.close();
  }
}

async function completedOutputs(ids: readonly string[]): Promise<Map<string, string>> {
  let rows = taskRows(ids);
  await until(() => {
    rows = taskRows(ids);
    return [...rows.values()].every((row) => row?.status === "completed");
  }, `all ${ids.length} accepted tasks to complete`);
  return new Map([...rows].map(([id, row]) => [id, JSON.parse(row.result!).output as string]));
}

test("run --watch reloads an edited handler without dropping an accepted task, refuses a broken registry and reloads its fix", async (t) => {
  cpSync(path.join(ROOT, "app"), APP, { recursive: true });
  const originalRegistry = readFileSync(REGISTRY, "utf8");
  const originalHandler = readFileSync(HANDLER, "utf8");
  assert.ok(originalHandler.includes(OLD_ACTION), `app/process_task.ts no longer contains the line this test edits: ${OLD_ACTION}`);

  const app = await startWatching();
  let reloadSeen = false;
  const posting = postContinuously(app.url, () => reloadSeen);

  // 1. A handler edit while tasks arrive.
  await until(() => posting.accepted.length >= ACCEPTED_BEFORE_EDIT, `${ACCEPTED_BEFORE_EDIT} accepted tasks`);
  const beforeEdit = app.stderr().length;
  save(HANDLER, originalHandler.replace(OLD_ACTION, NEW_ACTION));
  await app.waitFor(new RegExp(`^change detected: ${SHOWN(HANDLER)} — reloading$`, "m"), beforeEdit);
  await app.waitFor(/^reloaded in \d+ms \(\d+ entries; services were down for \d+ms\)$/m, beforeEdit);
  reloadSeen = true;
  await until(() => posting.accepted.filter((task) => task.afterReload).length >= ACCEPTED_AFTER_RELOAD, `${ACCEPTED_AFTER_RELOAD} tasks accepted after the reload`);
  await posting.stop();
  t.diagnostic(`${posting.accepted.length} tasks accepted, ${posting.refused()} requests refused during the reload`);

  assert.deepEqual(posting.unexpected, []);
  const outputs = await completedOutputs(posting.accepted.map((task) => task.id));
  let oldVersion = 0;
  for (const task of posting.accepted) {
    const output = outputs.get(task.id);
    const upper = task.text.toUpperCase();
    if (task.afterReload) assert.equal(output, `${upper} (v2)`, `task ${task.id} was accepted after the reload`);
    else assert.ok(output === upper || output === `${upper} (v2)`, `task ${task.id}: unexpected output ${output}`);
    if (output === upper) oldVersion++;
  }
  assert.ok(oldVersion > 0, "some tasks were processed by the version before the edit");

  // 2. A broken registry edit: refused, and the running (edited) version keeps serving.
  const gatewayLine = originalRegistry.split("\n").indexOf("  - name: gateway") + 1;
  assert.ok(gatewayLine > 0, "app/_index.yaml no longer declares app:gateway as this test expects");
  const beforeBreak = app.stderr().length;
  save(REGISTRY, originalRegistry.replace("  - name: gateway\n    kind: http.service", "  - name: gateway\n      kind: http.service"));
  await app.waitFor(/^reload refused: .*$/m, beforeBreak);
  assert.equal(
    app.stderr().slice(beforeBreak),
    [
      `change detected: ${SHOWN(REGISTRY)} — reloading`,
      `${SHOWN(REGISTRY)}:${gatewayLine}:11: error E_YAML YAML syntax: Nested mappings are not allowed in compact mappings`,
      `${SHOWN(REGISTRY)}:${gatewayLine}:11: error E_YAML YAML syntax: Implicit keys need to be on a single line`,
      // Only the syntax errors: the command line's overrides are checked once the file parses again.
      "reload refused: 2 errors — the running version keeps serving",
      "",
    ].join("\n"),
  );
  const whileBroken = await postOne(app.url, "still serving");
  assert.equal(whileBroken.status, 202);
  assert.equal((await completedOutputs([whileBroken.id!])).get(whileBroken.id!), "STILL SERVING (v2)");

  // 3. Fixing it reloads.
  const beforeFix = app.stderr().length;
  save(REGISTRY, originalRegistry);
  await app.waitFor(/^reloaded in \d+ms/m, beforeFix);
  const afterFix = await postOne(app.url, "fixed");
  assert.equal(afterFix.status, 202);
  assert.equal((await completedOutputs([afterFix.id!])).get(afterFix.id!), "FIXED (v2)");

  child!.kill("SIGTERM");
  assert.equal(await app.exited, 0);
  assert.match(app.stderr(), /stopped cleanly\n$/);
});
