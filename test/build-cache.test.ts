/**
 * The handlers' build cache across starts of `taskrt run`: a second start of unchanged handlers
 * neither loads esbuild nor leaves its service process running; an edit of a file a handler imports,
 * or a damaged cache entry, is compiled again and served.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { startChildApp, type ChildApp } from "./support/child-app.ts";

// A project of its own with a node_modules folder: the cache lives in it and goes with it.
const PROJECT = mkdtempSync(path.join(tmpdir(), "taskrt-build-cache-"));
const CACHE = path.join(PROJECT, "node_modules", ".cache", "taskrt");
mkdirSync(path.join(PROJECT, "node_modules"));
mkdirSync(path.join(PROJECT, "lib"));
after(() => rmSync(PROJECT, { recursive: true, force: true }));

writeFileSync(
  path.join(PROJECT, "_index.yaml"),
  `version: "1.0"
namespace: app
entries:
  - name: gateway
    kind: http.service
    addr: ":8080"
    lifecycle:
      auto_start: true
  - name: router
    kind: http.router
    meta:
      server: app:gateway
  - name: greet
    kind: function.ts
    source: file://greet.ts
    method: handler
    modules: [http]
  - name: greet.endpoint
    kind: http.endpoint
    meta:
      router: app:router
    method: GET
    path: /greet
    func: app:greet
`,
);
writeFileSync(
  path.join(PROJECT, "greet.ts"),
  `import { http } from "taskrt";
import { greeting } from "./lib/words.ts";

export function handler(): void {
  http.response().writeJson({ text: greeting("cache") });
}
`,
);
const WORDS = path.join(PROJECT, "lib", "words.ts");
writeFileSync(WORDS, `export const greeting = (name: string): string => "hello " + name;\n`);

interface CacheReport {
  hits: number;
  misses: number;
  esbuild: string;
}

/** Starts the project, reads its greeting and its cache report (a debug log line), and stops it. */
async function startOnce(): Promise<{ text: string; report: CacheReport; children: string }> {
  const app: ChildApp = await startChildApp({ cwd: PROJECT, registry: "_index.yaml", args: ["--log-level", "debug"] });
  try {
    const response = await fetch(`${app.url}/greet`);
    assert.equal(response.status, 200, app.stdout());
    const { text } = (await response.json()) as { text: string };
    const record = app.logRecords().find((candidate) => candidate.msg === "handler build cache");
    assert.ok(record, `no cache report in the debug log:\n${app.stdout()}`);
    const report: CacheReport = { hits: Number(record.hits), misses: Number(record.misses), esbuild: String(record.esbuild) };
    return { text, report, children: childProcesses(app.pid) };
  } finally {
    await app.terminate();
  }
}

/** The child's own child processes (Linux): esbuild's service would be one. */
function childProcesses(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
  } catch {
    return "";
  }
}

test("a first start compiles; a second start uses the cache without loading esbuild", async () => {
  const first = await startOnce();
  assert.equal(first.text, "hello cache");
  assert.equal(first.report.hits, 0);
  assert.ok(first.report.misses > 0);
  assert.equal(first.report.esbuild, "loaded");
  // Stopped once the handlers were loaded: no service process lingers beside the server.
  assert.equal(first.children, "");

  const second = await startOnce();
  assert.equal(second.text, "hello cache");
  assert.deepEqual(second.report, { hits: first.report.misses, misses: 0, esbuild: "not loaded" });
});

test("an edit of a file the handler imports is compiled again", async () => {
  writeFileSync(WORDS, `export const greeting = (name: string): string => "bonjour " + name;\n`);
  const edited = await startOnce();
  assert.equal(edited.text, "bonjour cache");
  assert.ok(edited.report.misses > 0);
  assert.equal(edited.report.esbuild, "loaded");
});

test("a damaged or missing cache entry is rebuilt", async () => {
  const compiled = readdirSync(CACHE).filter((name) => name.startsWith("greet-") && name.endsWith(".mjs"));
  assert.ok(compiled.length > 0, `no compiled greet module in ${CACHE}`);
  for (const name of compiled) writeFileSync(path.join(CACHE, name), "export const handler = 'truncated");
  const afterDamage = await startOnce();
  assert.equal(afterDamage.text, "bonjour cache");
  assert.equal(afterDamage.report.esbuild, "loaded");

  for (const name of readdirSync(CACHE).filter((candidate) => candidate.endsWith(".json"))) writeFileSync(path.join(CACHE, name), "{ not json");
  const afterCorruptRecords = await startOnce();
  assert.equal(afterCorruptRecords.text, "bonjour cache");
  assert.equal(afterCorruptRecords.report.hits, 0);

  for (const name of readdirSync(CACHE)) rmSync(path.join(CACHE, name));
  const afterRemoval = await startOnce();
  assert.equal(afterRemoval.text, "bonjour cache");
  assert.equal(afterRemoval.report.hits, 0);

  const again = await startOnce();
  assert.equal(again.report.esbuild, "not loaded");
});

test("a compile removes the handler's older compiled files, keeping the newest three", async () => {
  await startOnce();
  const stemOf = (name: string) => /^(greet-[0-9a-f]{8})-[0-9a-f]{16}\.mjs$/.exec(name)?.[1];
  const stem = readdirSync(CACHE).map(stemOf).find((found) => found !== undefined);
  assert.ok(stem, `no compiled greet module in ${CACHE}`);
  // Five older compiles of this handler, an hour old and older; and another handler's, which stays.
  const stale = [1, 2, 3, 4, 5].map((hours) => {
    const file = path.join(CACHE, `${stem}-${String(hours).repeat(16)}.mjs`);
    writeFileSync(file, "export {};\n");
    const when = new Date(Date.now() - hours * 3_600_000);
    utimesSync(file, when, when);
    return file;
  });
  const other = path.join(CACHE, `other-12345678-${"a".repeat(16)}.mjs`);
  writeFileSync(other, "export {};\n");
  utimesSync(other, new Date(0), new Date(0));

  writeFileSync(WORDS, `export const greeting = (name: string): string => "hallo " + name;\n`);
  const edited = await startOnce();
  assert.equal(edited.text, "hallo cache");
  const left = readdirSync(CACHE).filter((name) => stemOf(name) === stem);
  assert.equal(left.length, 3, left.join(", "));
  // The new compile and the newest older ones stay (a running `--watch` may still name them); the oldest go.
  for (const gone of stale.slice(2)) assert.ok(!left.includes(path.basename(gone)), left.join(", "));
  assert.ok(readdirSync(CACHE).includes(path.basename(other)));
});
