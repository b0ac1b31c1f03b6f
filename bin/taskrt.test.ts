import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";

const FIVE = "test/fixtures/cli/five-problems";
const VALID = "test/fixtures/cli/valid";

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function taskrt(args: string[], options: { untilStderr?: RegExp; then?: (child: ReturnType<typeof spawn>, stderrSoFar: string) => void } = {}): Promise<Outcome> {
  const child = spawn(process.execPath, ["bin/taskrt.js", ...args], { env: { ...process.env, NO_COLOR: "1" } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    if (options.untilStderr?.test(stderr) && options.then) {
      const act = options.then;
      options.then = undefined;
      act(child, stderr);
    }
  });
  const [code] = await once(child, "exit");
  return { code, stdout, stderr };
}

describe("taskrt validate", () => {
  test("reports every problem with its location, and exits 1", async () => {
    const { code, stdout } = await taskrt(["validate", FIVE]);
    assert.equal(code, 1);
    const lines = stdout.trim().split("\n");
    assert.equal(lines.length, 6);
    assert.deepEqual(
      lines.slice(0, 5).map((line) => line.split(" ").slice(0, 4).join(" ")),
      [
        `${FIVE}/_index.yaml:10:5: error E_UNKNOWN_KIND [app:queue_driver]`,
        `${FIVE}/_index.yaml:14:5: error E_REF_KIND [app:tasks_queue]`,
        `${FIVE}/_index.yaml:18:5: error E_SOURCE_MISSING [app:worker]`,
        `${FIVE}/_index.yaml:24:5: error E_REF_UNRESOLVED [app:consumer]`,
        `${FIVE}/_index.yaml:25:5: error E_SCHEMA [app:consumer]`,
      ],
    );
    assert.match(lines[0], /unknown kind "queue\.driver\.memroy" \(hint: did you mean "queue\.driver\.memory"/);
    assert.match(lines[1], /driver: app:db is a db\.sql\.sqlite, expected queue\.driver\.\*/);
    assert.match(lines[3], /func: no entry app:wroker \(hint: did you mean app:worker\?\)/);
    assert.match(lines[4], /concurrency: must be <= 1000, found 5000/);
    assert.equal(lines[5], "5 entries: 5 errors, 0 warnings");
  });

  test("--format json gives the same problems as data", async () => {
    const { code, stdout } = await taskrt(["validate", FIVE, "--format", "json"]);
    assert.equal(code, 1);
    const report = JSON.parse(stdout);
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.problems.map((problem: { code: string; entryId: string; location: { line: number } }) => [problem.code, problem.entryId, problem.location.line]),
      [
        ["E_UNKNOWN_KIND", "app:queue_driver", 10],
        ["E_REF_KIND", "app:tasks_queue", 14],
        ["E_SOURCE_MISSING", "app:worker", 18],
        ["E_REF_UNRESOLVED", "app:consumer", 24],
        ["E_SCHEMA", "app:consumer", 25],
      ],
    );
  });

  test("is quiet on a clean registry but still shows warnings, and exits 0", async () => {
    const { code, stdout } = await taskrt(["validate", VALID]);
    assert.equal(code, 0);
    assert.equal(
      stdout,
      `${VALID}/_index.yaml:36:5: warning W_UNKNOWN_FIELD [demo:hello.endpoint] unknown field "concurency": http.endpoint has no such field and ignores it (hint: known fields: method, path, func)\n5 entries: 0 errors, 1 warning\n`,
    );
  });

  test("an override naming no entry is an error", async () => {
    const { code, stdout } = await taskrt(["validate", VALID, "-o", "demo:gatway:addr=:1"]);
    assert.equal(code, 1);
    assert.match(stdout, /error E_OVERRIDE .*no entry demo:gatway.*did you mean demo:gateway/);
  });
});

describe("taskrt run", () => {
  test("refuses a registry with problems, printing them, and exits 1", async () => {
    const { code, stderr } = await taskrt(["run", FIVE]);
    assert.equal(code, 1);
    assert.match(stderr, /_index\.yaml:25:5: error E_SCHEMA \[app:consumer\] concurrency: must be <= 1000, found 5000/);
    assert.match(stderr, /taskrt: not starting: 5 errors, 0 warnings\n$/);
  });

  test("starts, serves, and stops cleanly on SIGTERM with exit 0", async () => {
    let served: unknown;
    const { code, stderr } = await taskrt(["run", VALID], {
      untilStderr: /ready in \d+ms/,
      then: (child, soFar) => {
        const port = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(soFar)?.[1];
        fetch(`http://127.0.0.1:${port}/api/hello/ada`)
          .then((response) => response.json())
          .then((body) => (served = body))
          .finally(() => child.kill("SIGTERM"));
      },
    });
    assert.deepEqual(served, { hello: "ada" });
    assert.equal(code, 0);
    assert.match(stderr, /received SIGTERM: stopping/);
    assert.match(stderr, /stopped cleanly\n$/);
  });

  test("a port already in use is a clear one-line error", async () => {
    const { createServer } = await import("node:net");
    const blocker = createServer().listen(0, "127.0.0.1");
    await once(blocker, "listening");
    const port = (blocker.address() as { port: number }).port;
    try {
      const { code, stderr } = await taskrt(["run", VALID, "-o", `demo:gateway:addr=127.0.0.1:${port}`]);
      assert.equal(code, 1);
      assert.match(stderr, new RegExp(`taskrt: demo:gateway cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
      assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace for a user error");
    } finally {
      blocker.close();
    }
  });
});

describe("taskrt help and usage", () => {
  test("--help lists the commands and their options", async () => {
    const { code, stdout } = await taskrt(["--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /^taskrt \d+\.\d+\.\d+ — run Wippy-style YAML registries on Node\n/);
    assert.match(stdout, /taskrt run PATH \[-o ns:entry:field=value\]…\s+validate, then start every auto-start entry/);
    assert.match(stdout, /taskrt validate PATH \[--format text\|json\]\s+check a registry; exit 1 on any error/);
    assert.match(stdout, /-o, --override ns:entry:field=value/);
  });

  test("an unknown command says so and exits 2", async () => {
    const { code, stderr } = await taskrt(["serve", "x"]);
    assert.equal(code, 2);
    assert.equal(stderr, "taskrt: unknown command 'serve'\nRun 'taskrt --help' for usage.\n");
  });
});
