/**
 * A kind from outside taskrt, as a user's project has one: examples/static-site copied into a
 * directory of its own with taskrt installed in its node_modules, its `static.files` kind loaded by
 * the CLI from package.json's "taskrt"."kinds" or from `--kinds`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startChildApp, type ChildApp } from "./support/child-app.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const EXAMPLE = path.join(ROOT, "examples", "static-site");
const workspaces: string[] = [];

/** A copy of the example with taskrt installed (linked, as `npm install` of `file:../..` does). */
function installExample(packageChanges: (manifest: Record<string, unknown>) => void = () => {}): string {
  const project = mkdtempSync(path.join(tmpdir(), "taskrt-static-site-"));
  workspaces.push(project);
  cpSync(EXAMPLE, project, { recursive: true });
  mkdirSync(path.join(project, "node_modules"));
  symlinkSync(ROOT, path.join(project, "node_modules", "taskrt"));
  const manifest = JSON.parse(readFileSync(path.join(project, "package.json"), "utf8")) as Record<string, unknown>;
  packageChanges(manifest);
  writeFileSync(path.join(project, "package.json"), JSON.stringify(manifest, null, 2));
  return project;
}

async function taskrt(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, "bin", "taskrt.js"), ...args], { cwd, env: { ...process.env, NO_COLOR: "1" } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const [code] = await once(child, "exit");
  return { code, stdout, stderr };
}

/** A GET with the path sent exactly as written (fetch would normalise `..` away). */
function rawGet(url: string, rawPath: string): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const outgoing = request({ host: target.hostname, port: target.port, path: rawPath, method: "GET" }, (response) => {
      let body = "";
      response.setEncoding("utf8").on("data", (chunk) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode!, type: response.headers["content-type"], body }));
    });
    outgoing.on("error", reject).end();
  });
}

after(() => {
  for (const directory of workspaces) rmSync(directory, { recursive: true, force: true });
});

describe("a kind from outside taskrt (examples/static-site), listed in package.json", () => {
  let project: string;
  let app: ChildApp;
  before(async () => {
    project = installExample();
    // A link inside the served directory that leads out of it.
    symlinkSync(path.join(project, "package.json"), path.join(project, "public", "leak.json"));
    app = await startChildApp({ cwd: project, registry: ".", gateway: "site:gateway" });
  });
  after(async () => {
    await app?.terminate();
  });

  test("taskrt run serves the directory's files with their content types", async () => {
    const index = await rawGet(app.url, "/");
    assert.deepEqual([index.status, index.type], [200, "text/html; charset=utf-8"]);
    assert.match(index.body, /<h1>Served by static\.files<\/h1>/);
    const guide = await rawGet(app.url, "/docs/guide.txt");
    assert.deepEqual(guide, { status: 200, type: "text/plain; charset=utf-8", body: "static.files serves this directory; nothing outside it can be reached.\n" });
    assert.equal((await rawGet(app.url, "/style.css")).type, "text/css; charset=utf-8");
  });

  test("a missing file, a path climbing out of the directory and a link leading out of it are all 404", async () => {
    for (const rawPath of ["/missing.txt", "//etc/passwd", "/..%2fpackage.json", "/docs/..%2F..%2Fpackage.json", "/leak.json", "/%00"]) {
      assert.deepEqual(await rawGet(app.url, rawPath), { status: 404, type: "text/plain; charset=utf-8", body: "not found\n" }, rawPath);
    }
  });
});

describe("a kind from outside taskrt, given with --kinds", () => {
  test("without it the registry's kind is unknown; with it run serves the files", async () => {
    const project = installExample((manifest) => delete manifest.taskrt);
    const refused = await taskrt(["validate", "."], project);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /^_index\.yaml:17:5: error E_UNKNOWN_KIND \[site:files\] unknown kind "static\.files"/m);
    const app = await startChildApp({ cwd: project, registry: ".", gateway: "site:gateway", args: ["--kinds", "./kinds/static-files.ts"] });
    try {
      assert.equal((await rawGet(app.url, "/style.css")).status, 200);
    } finally {
      await app.terminate();
    }
  });
});

describe("the CLI knows the outside kind as it knows the built-in ones", () => {
  let project: string;
  before(() => {
    project = installExample();
  });

  test("validate reports a schema error in the outside kind's entry, and its own check, located", async () => {
    const project = installExample();
    const registry = readFileSync(path.join(project, "_index.yaml"), "utf8").replace("root: ./public", "root: ./site").replace("path: /", "path: files");
    writeFileSync(path.join(project, "_index.yaml"), registry);
    const { code, stdout } = await taskrt(["validate", "."], project);
    assert.equal(code, 1);
    assert.equal(
      stdout,
      [
        `_index.yaml:20:5: error E_SCHEMA [site:files] path: must match ^/, found "files" (hint: Where the files appear, after the router's prefix.)`,
        "3 entries: 1 error, 0 warnings",
        "",
      ].join("\n"),
    );
    writeFileSync(path.join(project, "_index.yaml"), registry.replace("path: files", "path: /"));
    const missing = await taskrt(["validate", "."], project);
    assert.equal(missing.stdout.split("\n")[0], `_index.yaml:19:5: error E_FILE [site:files] root: ${path.join(project, "site")} does not exist (hint: root names the directory to serve, relative to this YAML file)`);
  });

  test("inspect shows the entry with its schema's defaults, and graph draws it", async () => {
    const inspected = await taskrt(["inspect", ".", "site:files", "--format", "json"], project);
    assert.equal(inspected.code, 0, inspected.stderr);
    const detail = JSON.parse(inspected.stdout);
    assert.deepEqual(detail.data, { root: "./public", path: "/", index: "index.html", cache_control: "no-cache" });
    assert.deepEqual(detail.references, [{ field: "meta.router", target: "site:router", kind: "http.router" }]);
    const graph = await taskrt(["graph", "."], project);
    assert.match(graph.stdout, /site_files -->\|"meta\.router"\| site_router/);
  });

  test("taskrt kinds documents it and taskrt schema offers it to editors", async () => {
    const kinds = await taskrt(["kinds"], project);
    assert.equal(kinds.code, 0, kinds.stderr);
    assert.ok(kinds.stdout.includes("| `static.files` | Serves the files of a directory on a router"), "in the overview");
    assert.ok(kinds.stdout.includes('| `path` | string | `"/"` | matches `^/` | Where the files appear, after the router\'s prefix. |'), "its fields");
    const schema = await taskrt(["schema"], project);
    const manifest = JSON.parse(schema.stdout);
    assert.ok(manifest.definitions.entry.properties.kind.enum.includes("static.files"));
    assert.ok(manifest.definitions.entry.properties.kind.enum.includes("http.router"));
    assert.deepEqual(manifest.definitions["static.files"].properties.index.default, "index.html");
  });

  test("a kind module that cannot be loaded stops the command with one line naming it", async () => {
    const { code, stdout, stderr } = await taskrt(["run", ".", "--kinds", "./kinds/missing.ts"], project);
    assert.deepEqual({ code, stdout, stderr }, { code: 1, stdout: "", stderr: `taskrt: kind module ./kinds/missing.ts: ${path.join(project, "kinds", "missing.ts")} does not exist\n` });
  });

  test("validate --help offers --kinds", async () => {
    const { stdout } = await taskrt(["validate", "--help"], project);
    assert.ok(stdout.split("\n").includes(`      --kinds module                   load kinds from a module: a ./path or a package name (repeatable); package.json's "taskrt": {"kinds": [...]} too`), stdout);
  });
});
