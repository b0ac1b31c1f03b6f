/**
 * taskrt as users get it: `npm pack` (on a copy of the package's files, so that its build never
 * replaces the dist/ other tests may be running), installed from the tarball into a folder outside the
 * repository, `npx taskrt init myapp`, `npm install` there, then `npm start` serves (and stops
 * gracefully on SIGTERM to npm), `npm test` and `npm run typecheck` pass.
 *
 * Installs use npm's cache (`--prefer-offline`) and skip install scripts: better-sqlite3's would
 * compile SQLite (over a minute per install on 2 cores), so the project reuses this checkout's
 * build of the same version, and compiles only when the versions differ. Under CI this test never
 * skips; elsewhere it skips, saying why, when npm cannot install.
 */
import { after, before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPOSITORY = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const NPM_FLAGS = ["--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"];

interface Outcome {
  code: number | null;
  output: string;
}

/** Runs a command to its end; NODE_TEST_CONTEXT and NODE_OPTIONS are dropped so nested node runs behave as a user's would. */
function run(command: string, args: string[], cwd: string): Promise<Outcome> {
  const environment: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", npm_config_update_notifier: "false" };
  delete environment.NODE_TEST_CONTEXT;
  delete environment.NODE_OPTIONS;
  const child = spawn(command, args, { cwd, env: environment, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  return new Promise((resolve) => {
    child.once("error", (error) => resolve({ code: null, output: output + error.message }));
    child.once("close", (code) => resolve({ code, output }));
  });
}

function succeeded(outcome: Outcome, what: string): void {
  assert.equal(outcome.code, 0, `${what} failed:\n${outcome.output}`);
}

let workspace: string;
let tarball: string;

before(() => {
  workspace = mkdtempSync(path.join(tmpdir(), "taskrt-package-"));
});

after(() => {
  rmSync(workspace, { recursive: true, force: true });
});

/** What `npm pack` reads: the package's own files, and this checkout's node_modules for the build. */
const PACKAGE_SOURCES = ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "README.md", "LICENSE", "bin", "runtime", "schemas", "scripts", "templates"];

test("npm pack ships the compiled package only: dist, schemas, templates, README, LICENSE", async () => {
  const copy = path.join(workspace, "taskrt");
  for (const item of PACKAGE_SOURCES) cpSync(path.join(REPOSITORY, item), path.join(copy, item), { recursive: true });
  symlinkSync(path.join(REPOSITORY, "node_modules"), path.join(copy, "node_modules"));
  const packed = await run("npm", ["pack", "--pack-destination", workspace], copy);
  succeeded(packed, "npm pack");
  tarball = path.join(workspace, packed.output.trim().split("\n").at(-1)!);
  assert.ok(existsSync(tarball), `npm pack wrote ${tarball}`);
  const listed = await run("tar", ["-tzf", tarball], workspace);
  succeeded(listed, "tar");
  const files = listed.output.trim().split("\n").map((file) => file.replace(/^package\//, ""));
  const unexpected = files.filter((file) => !/^(dist|schemas|templates)\//.test(file) && !["README.md", "LICENSE", "package.json"].includes(file));
  assert.deepEqual(unexpected, []);
  assert.deepEqual(files.filter((file) => !file.startsWith("templates/") && /\.test\.|test-support|\/testing\./.test(file)), [], "no tests or test support");
  assert.deepEqual(files.filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts") && !file.startsWith("templates/")), [], "no TypeScript sources");
  for (const file of ["dist/bin/taskrt.js", "dist/runtime/index.js", "dist/runtime/index.d.ts", "schemas/manifest.json", "templates/init/_index.yaml"]) {
    assert.ok(files.includes(file), `${file} is shipped`);
  }
});

test("installed from the tarball, `taskrt init` makes a project that installs, serves, tests and typechecks", async (t: TestContext) => {
  assert.ok(tarball, "the pack test ran first");
  const installation = path.join(workspace, "installation");
  mkdirSync(installation);
  writeFileSync(path.join(installation, "package.json"), JSON.stringify({ name: "installation", private: true }));
  const installed = await run("npm", ["install", ...NPM_FLAGS, tarball], installation);
  if (installed.code !== 0 && !process.env.CI) {
    t.skip(`npm could not install the tarball here (offline with an empty cache?):\n${installed.output}`);
    return;
  }
  succeeded(installed, "npm install <tarball>");

  const created = await run("npx", ["--no-install", "taskrt", "init", "myapp"], installation);
  succeeded(created, "npx taskrt init myapp");
  const project = path.join(installation, "myapp");
  const manifest = JSON.parse(readFileSync(path.join(project, "package.json"), "utf8"));
  // This version is not published (or the registry did not answer): the project depends on the tarball.
  assert.equal(manifest.dependencies.taskrt, `file:${tarball}`);
  assert.match(created.output, new RegExp(`taskrt dependency: file:${tarball.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\n`));

  succeeded(await run("npm", ["install", ...NPM_FLAGS], project), "npm install in the project");
  await provideSqliteBuild(project);

  await t.test("npm start serves POST and GET, and SIGTERM to npm stops the server gracefully", async () => {
    const server = spawn("npm", ["start", "--", "-o", "app:gateway:addr=127.0.0.1:0"], { cwd: project, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    server.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    server.stdout.resume();
    const exited = new Promise<number | null>((resolve) => server.once("close", (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready within 60s:\n${stderr}`)), 60_000);
        server.stderr.on("data", () => {
          const listening = /listening on (http:\/\/\S+)/.exec(stderr);
          if (listening && /^ready in \d+ms/m.test(stderr)) {
            clearTimeout(timer);
            resolve(listening[1]!);
          }
        });
        void exited.then((code) => reject(new Error(`npm start exited (${code}) before it was ready:\n${stderr}`)));
      });
      const posted = await fetch(`${url}/greetings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Ada" }) });
      assert.equal(posted.status, 202);
      const { id } = (await posted.json()) as { id: string };
      const deadline = Date.now() + 30_000;
      let stored: { id: string; message: string } | undefined;
      while (!stored && Date.now() < deadline) {
        const listed = (await (await fetch(`${url}/greetings`)).json()) as { greetings: { id: string; message: string }[] };
        stored = listed.greetings.find((greeting) => greeting.id === id);
        if (!stored) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(stored?.message, "Hello, Ada!");
      server.kill("SIGTERM");
      assert.equal(await exited, 0, stderr);
      assert.match(stderr, /received SIGTERM: stopping/);
      assert.match(stderr, /stopped cleanly/);
    } finally {
      if (server.exitCode === null) server.kill("SIGKILL");
    }
  });

  await t.test("npm test passes in the project", async () => {
    const tested = await run("npm", ["test"], project);
    succeeded(tested, "npm test");
    assert.match(tested.output, /^# pass 3$/m);
  });

  await t.test("npm run typecheck passes under the template's strict options, reading taskrt's declarations only", async () => {
    const listed = await run("npm", ["run", "typecheck", "--", "--listFiles"], project);
    succeeded(listed, "npm run typecheck");
    const fromTaskrt = listed.output.split("\n").filter((file) => file.includes("/node_modules/taskrt/"));
    assert.ok(fromTaskrt.length > 0);
    assert.deepEqual(fromTaskrt.filter((file) => !file.endsWith(".d.ts")), [], "no taskrt source is type-checked");
  });
});

/** better-sqlite3's native build: this checkout's, when the project got the same version; otherwise compiled. */
async function provideSqliteBuild(project: string): Promise<void> {
  const theirs = path.join(project, "node_modules", "better-sqlite3");
  const ours = path.join(REPOSITORY, "node_modules", "better-sqlite3");
  const version = (folder: string) => (JSON.parse(readFileSync(path.join(folder, "package.json"), "utf8")) as { version: string }).version;
  if (version(theirs) === version(ours) && existsSync(path.join(ours, "build", "Release"))) {
    cpSync(path.join(ours, "build"), path.join(theirs, "build"), { recursive: true });
    return;
  }
  succeeded(await run("npm", ["rebuild", "better-sqlite3"], project), "npm rebuild better-sqlite3");
  assert.ok(readdirSync(path.join(theirs, "build", "Release")).includes("better_sqlite3.node"));
}
