import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "./main.ts";

const REPOSITORY = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const CLI = path.join(REPOSITORY, "bin", "taskrt.js");
const VERSION: string = JSON.parse(readFileSync(path.join(REPOSITORY, "package.json"), "utf8")).version;

const SCAFFOLD_FILES = [
  ".gitignore",
  "README.md",
  "_index.yaml",
  "handlers/greet.ts",
  "handlers/list.ts",
  "handlers/migrate.ts",
  "handlers/submit.ts",
  "package.json",
  "test/app.test.ts",
  "tsconfig.json",
];

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A stand-in npm for `npm view taskrt@VERSION version`: prints `answer` (a published version) or,
 * given none, fails as npm does for an unpublished one. Tests never ask the real registry.
 */
function registryNpm(directory: string, answer?: string): string {
  const script = path.join(directory, `registry-npm-${answer ?? "404"}.sh`);
  writeFileSync(script, answer ? `#!/bin/sh\necho "${answer}"\n` : `#!/bin/sh\necho "npm error code E404" >&2\nexit 1\n`);
  chmodSync(script, 0o755);
  return script;
}

let unpublishedNpm = "";

/** Runs a node command; NODE_TEST_CONTEXT is dropped so a nested `node --test` reports as usual. */
async function node(args: string[], cwd = REPOSITORY, npm = unpublishedNpm): Promise<Outcome> {
  const environment: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", TASKRT_NPM: npm };
  delete environment.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, args, { cwd, env: environment });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const [code] = await once(child, "exit");
  return { code, stdout, stderr };
}

const UNPUBLISHED = `taskrt ${VERSION} is not on the npm registry, or it did not answer; this is this taskrt's folder`;

function createdReport(where: string, name: string, cd: string, replaced: string[] = [], dependency = [`file:${REPOSITORY}`, UNPUBLISHED]): string {
  return [
    `created ${name} in ${where}:`,
    ...SCAFFOLD_FILES.map((file) => `  ${file}${replaced.includes(file) ? " (replaced)" : ""}`),
    "",
    `taskrt dependency: ${dependency[0]}`,
    `  (${dependency[1]})`,
    "",
    "next steps:",
    `  ${cd}npm install && npm start`,
    "  npm test             (runs test/app.test.ts)",
    "  npm run typecheck    (tsc over the handlers and the test)",
    "",
  ].join("\n");
}

describe("taskrt init", () => {
  let temporary: string;
  before(() => {
    temporary = mkdtempSync(path.join(tmpdir(), "taskrt-init-"));
    unpublishedNpm = registryNpm(temporary);
  });
  after(() => {
    rmSync(temporary, { recursive: true, force: true });
  });

  test("scaffolds a project whose own test passes and whose registry validates", async () => {
    const project = path.join(temporary, "hello-app");
    const created = await node([CLI, "init", project, "--taskrt-path", REPOSITORY]);
    assert.equal(created.stderr, "");
    assert.equal(created.stdout, createdReport(project, "hello-app", `cd ${project} && `, [], [`file:${REPOSITORY}`, "as --taskrt-path asked"]));
    assert.equal(created.code, 0);
    const manifest = JSON.parse(readFileSync(path.join(project, "package.json"), "utf8"));
    assert.equal(manifest.name, "hello-app");
    assert.deepEqual(manifest.dependencies, { taskrt: `file:${REPOSITORY}` });
    assert.doesNotMatch(readFileSync(path.join(project, "README.md"), "utf8"), /\{\{/, "every placeholder filled");

    // What `npm install` leaves for a file: dependency (a link) and for tsx (hoisted), without the
    // network; `taskrt-source` runs this checkout's sources rather than a dist/ that may be stale.
    // The installed package (compiled, with its typecheck) is test/package.test.ts's.
    mkdirSync(path.join(project, "node_modules"));
    symlinkSync(REPOSITORY, path.join(project, "node_modules", "taskrt"));
    symlinkSync(path.join(REPOSITORY, "node_modules", "tsx"), path.join(project, "node_modules", "tsx"));

    const tested = await node(["--conditions=taskrt-source", "--import", "tsx", "--test", "test/app.test.ts"], project);
    assert.equal(tested.code, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /^# pass 3$/m);
    assert.match(tested.stdout, /^# fail 0$/m);

    const validated = await node([CLI, "validate", "_index.yaml", "--verbose"], project);
    assert.equal(validated.stdout, "14 entries: 0 errors, 0 warnings\n");
    assert.equal(validated.code, 0);
  });

  test("when this version is not on the registry, the project depends on this taskrt's folder, and is named after its own", async () => {
    const project = path.join(temporary, "My Queue!");
    const created = await node([CLI, "init", project]);
    assert.equal(created.code, 0);
    assert.equal(created.stdout, createdReport(project, "my-queue", `cd '${project}' && `));
    const manifest = JSON.parse(readFileSync(path.join(project, "package.json"), "utf8"));
    assert.equal(manifest.name, "my-queue");
    assert.deepEqual(manifest.dependencies, { taskrt: `file:${REPOSITORY}` });
  });

  test("when this version is on the registry, the project depends on its semver range", async () => {
    const project = path.join(temporary, "published");
    const created = await node([CLI, "init", project], REPOSITORY, registryNpm(temporary, VERSION));
    assert.equal(created.code, 0);
    assert.equal(created.stdout, createdReport(project, "published", `cd ${project} && `, [], [`^${VERSION}`, `taskrt ${VERSION} is on the npm registry`]));
    assert.deepEqual(JSON.parse(readFileSync(path.join(project, "package.json"), "utf8")).dependencies, { taskrt: `^${VERSION}` });
  });

  test("with no DIR it fills the current directory and leaves the cd out of the next steps", async () => {
    const project = path.join(temporary, "here");
    mkdirSync(project);
    const created = await node([CLI, "init"], project);
    assert.equal(created.code, 0);
    assert.equal(created.stdout, createdReport("the current directory", "here", ""));
  });

  test("refuses a directory that is not empty, saying how to go ahead", async () => {
    const project = path.join(temporary, "occupied");
    mkdirSync(project);
    writeFileSync(path.join(project, "notes.txt"), "mine");
    const refused = await node([CLI, "init", project]);
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, "");
    assert.equal(
      refused.stderr,
      `taskrt: ${project} is not empty (1 entry)\n  hint: name a new or empty directory, or add --force to write into it (files of the same names are replaced)\n`,
    );
  });

  test("in a Wippy project (wippy.lock), as `wippy init` is run there, it writes nothing and says how to run it", async () => {
    const project = path.join(temporary, "wippy-project");
    mkdirSync(path.join(project, "src"), { recursive: true });
    writeFileSync(path.join(project, "wippy.lock"), "directories:\n  src: ./src\n");
    const done = await node([CLI, "init"], project);
    assert.equal(done.code, 0);
    assert.equal(done.stdout, ". is a Wippy project already (wippy.lock): nothing to write. Run it with `taskrt run`, or one process with `taskrt run -x ns:entry`.\n");
    assert.deepEqual(readdirSync(project).sort(), ["src", "wippy.lock"]);
  });

  test("--force writes into a non-empty directory, replacing same-named files and keeping the others", async () => {
    const project = path.join(temporary, "forced");
    mkdirSync(project);
    writeFileSync(path.join(project, "notes.txt"), "mine");
    writeFileSync(path.join(project, "README.md"), "old");
    const created = await node([CLI, "init", project, "--force"]);
    assert.equal(created.code, 0);
    assert.equal(created.stdout, createdReport(project, "forced", `cd ${project} && `, ["README.md"]));
    assert.equal(readFileSync(path.join(project, "notes.txt"), "utf8"), "mine");
    assert.match(readFileSync(path.join(project, "README.md"), "utf8"), /^# forced\n/);
  });

  test("refuses a path that is a file", async () => {
    const file = path.join(temporary, "a-file");
    writeFileSync(file, "");
    const refused = await node([CLI, "init", file]);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, `taskrt: ${file} exists and is not a directory\n  hint: name a new or empty directory\n`);
  });

  test("takes at most one DIR", async () => {
    const refused = await node([CLI, "init", "one", "two"]);
    assert.equal(refused.code, 2);
    assert.equal(refused.stderr, "taskrt: init takes at most one DIR (default: the current directory)\nRun 'taskrt --help' for usage.\n");
  });

  test("shows a line per step where progress is shown (a terminal), and none elsewhere", async () => {
    const project = path.join(temporary, "progress");
    const progress: string[] = [];
    const stdout: string[] = [];
    const code = await main(["init", project], { stdout: (text) => void stdout.push(text), stderr: () => {}, progress: (line) => void progress.push(line) });
    assert.equal(code, 0);
    assert.deepEqual(progress, [`[1/2] checking ${project}…`, `[2/2] writing ${SCAFFOLD_FILES.length} files…`]);
    const quiet = path.join(temporary, "quiet");
    const quietStderr: string[] = [];
    assert.equal(await main(["init", quiet], { stdout: () => {}, stderr: (text) => void quietStderr.push(text) }), 0);
    assert.deepEqual(quietStderr, []);
  });
  describe("--install", () => {
    /** A stand-in npm that records where and how it ran, then exits with `code`. */
    function fakeNpm(code: number): { path: string; calls: string } {
      const script = path.join(temporary, `fake-npm-${code}.sh`);
      const calls = path.join(temporary, `fake-npm-${code}.calls`);
      writeFileSync(script, `#!/bin/sh\n[ "$1" = view ] && exit 1\necho "$PWD $*" >> '${calls}'\necho "added 3 packages"\nexit ${code}\n`);
      chmodSync(script, 0o755);
      return { path: script, calls };
    }

    async function initWithNpm(project: string, npm: string, progress?: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
      const previous = process.env.TASKRT_NPM;
      process.env.TASKRT_NPM = npm;
      const stdout: string[] = [];
      const stderr: string[] = [];
      try {
        const code = await main(["init", project, "--install"], {
          stdout: (text) => void stdout.push(text),
          stderr: (text) => void stderr.push(text),
          ...(progress ? { progress: (line: string) => void progress.push(line) } : {}),
        });
        return { code, stdout: stdout.join(""), stderr: stderr.join("") };
      } finally {
        if (previous === undefined) delete process.env.TASKRT_NPM;
        else process.env.TASKRT_NPM = previous;
      }
    }

    test("runs npm install in the new project, as a third step, and the next steps no longer ask for it", async () => {
      const project = path.join(temporary, "installed");
      const npm = fakeNpm(0);
      const progress: string[] = [];
      const outcome = await initWithNpm(project, npm.path, progress);
      assert.equal(outcome.code, 0);
      assert.equal(readFileSync(npm.calls, "utf8"), `${project} install --no-audit --no-fund\n`);
      assert.deepEqual(progress, [`[1/3] checking ${project}…`, `[2/3] writing ${SCAFFOLD_FILES.length} files…`, "[3/3] installing dependencies (npm install)…"]);
      assert.match(outcome.stdout, new RegExp(`next steps:\\n  cd ${project.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} && npm start\\n`));
    });

    test("off a terminal npm's output goes to stderr, so logs show what it did", async () => {
      const outcome = await initWithNpm(path.join(temporary, "piped"), fakeNpm(0).path);
      assert.equal(outcome.code, 0);
      assert.equal(outcome.stderr, "added 3 packages\n");
    });

    test("a failed install keeps the written project and says how to finish by hand", async () => {
      const project = path.join(temporary, "install-fails");
      const outcome = await initWithNpm(project, fakeNpm(1).path);
      assert.equal(outcome.code, 1);
      assert.match(outcome.stderr, new RegExp(`taskrt: the project is written, but installing its dependencies failed: .*fake-npm-1\\.sh install exited with code 1\\n  hint: finish by hand: cd ${project.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} && npm install\\n`));
      assert.ok(existsSync(path.join(project, "_index.yaml")));
    });
  });
});
