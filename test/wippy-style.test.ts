/**
 * @module test/wippy-style — small projects written as Wippy users write them (wippy.lock, src/,
 * typed Lua, terminal hosts, actors, schedules, HTTP), each run from its folder the way its README
 * says: `taskrt run -x ns:entry` reading stdout, or `taskrt run` with HTTP calls and log lines.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CLI = path.join(ROOT, "bin", "taskrt.js");
const PROJECTS = path.join(ROOT, "test", "fixtures", "wippy-style");

const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill("SIGKILL");
});

interface Run {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  /** Resolves once `pattern` matches stdout (or stderr); rejects if the process ends first. */
  until(pattern: RegExp, stream?: "stdout" | "stderr"): Promise<RegExpMatchArray>;
}

/** `taskrt run ARGS…` from the project's folder, as its README runs it; `input`, if given, is piped to stdin. */
function taskrt(project: string, args: string[], env: Record<string, string> = {}, input?: string): Run {
  // The variables the projects read come only from the test.
  const { GREETING: _greeting, APP_NAME: _name, ...inherited } = process.env;
  const child = spawn(process.execPath, [CLI, "run", ...args], { cwd: path.join(PROJECTS, project), env: { ...inherited, NO_COLOR: "1", ...env }, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
  children.add(child);
  if (input !== undefined) child.stdin!.end(input);
  const output = { stdout: "", stderr: "" };
  const listeners = new Set<() => void>();
  for (const stream of ["stdout", "stderr"] as const) {
    child[stream]!.setEncoding("utf8").on("data", (chunk: string) => {
      output[stream] += chunk;
      for (const listener of listeners) listener();
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => (children.delete(child), resolve(code))));
  return {
    child,
    stdout: () => output.stdout,
    stderr: () => output.stderr,
    exited,
    until: (pattern, stream = "stdout") =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(output[stream]);
          if (!match) return;
          listeners.delete(check);
          resolve(match);
        };
        listeners.add(check);
        check();
        void exited.then(() => {
          if (!listeners.has(check)) return;
          listeners.delete(check);
          reject(new Error(`taskrt ended before ${pattern} appeared on ${stream}:\n${output.stdout}\n${output.stderr}`));
        });
      }),
  };
}

/** Runs `-x entry` to its end: exit code and stdout. */
async function exec(project: string, entry: string, extra: string[] = [], env: Record<string, string> = {}, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = taskrt(project, ["-x", entry, ...extra], env, input);
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** The `msg` of each JSON log line on stdout. */
function messages(stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
}

async function stopped(run: Run): Promise<void> {
  run.child.kill("SIGTERM");
  assert.equal(await run.exited, 0, run.stderr());
  assert.match(run.stderr(), /stopped cleanly/);
}

describe("Wippy-style projects, run as their READMEs say", () => {
  test("hello-terminal: io.print, the process's pid and io.write on the terminal host; exit 0", async () => {
    const { code, stdout } = await exec("hello-terminal", "app:hello", ["--", "Ada"]);
    assert.equal(code, 0);
    assert.match(stdout, /^Hi, Ada!\npid:\t\{app:terminal\|[^}]+\}\nno newline yet -- now\n$/);
  });

  test("func-call: funcs.call and funcs.async between typed function entries", async () => {
    const { code, stdout } = await exec("func-call", "app:main");
    assert.equal(code, 0);
    assert.equal(stdout, "square(3) = 9\n1 -> 1 (odd)\n2 -> 4 (even)\n3 -> 9 (odd)\n4 -> 16 (even)\nmissing: error\n");
  });

  test("worker-pool: coroutines share a job channel; results arrive for every job", async () => {
    const { code, stdout } = await exec("worker-pool", "app:pool");
    assert.equal(code, 0);
    assert.equal(stdout, "job 1: 55\njob 2: 210\njob 3: 465\njob 4: 820\njob 5: 1275\njob 6: 1830\nall 3 workers finished\n");
  });

  test("supervised-worker: a monitored worker crashes twice and is spawned again until it finishes", async () => {
    const { code, stdout } = await exec("supervised-worker", "app:supervisor");
    assert.equal(code, 0);
    assert.equal(
      stdout,
      "worker failed: src/flaky.lua:4: attempt 1 crashed -- restarting\nworker failed: src/flaky.lua:4: attempt 2 crashed -- restarting\nworker finished: attempt 3 ok\n",
    );
  });

  test("event-bus: a process selects over its subscription's channel and a quiet-time timeout", async () => {
    const { code, stdout } = await exec("event-bus", "app:shop");
    assert.equal(code, 0);
    assert.equal(stdout, "order.placed /orders/1\norder.placed /orders/2\ntotal: 29.5\n");
  });

  test("env-config: env.variable entries read the OS environment, with defaults", async () => {
    assert.deepEqual(await exec("env-config", "app:show").then((r) => [r.code, r.stdout.split("\n")[0]]), [0, "Hello from demo"]);
    const { code, stdout } = await exec("env-config", "app:show", [], { GREETING: "Bonjour" });
    assert.equal(code, 0);
    assert.equal(stdout, "Bonjour from demo\nundeclared: nil (error)\n");
  });

  test("registry-lookup: registry.entry items found by meta.type and read by id", async () => {
    const { code, stdout } = await exec("registry-lookup", "app:plans");
    assert.equal(code, 0);
    assert.equal(stdout, "app:plan_free: Free $0\napp:plan_pro: Pro $12\npro costs 12\ngold: not found\n");
  });

  test("line-tally: stdin lines go by name to a service, one spawned process answers each; an empty line ends", async () => {
    const { code, stdout } = await exec("line-tally", "app:client", [], {}, "one two\nabc\n\nnot read\n");
    assert.equal(code, 0);
    assert.match(stdout, /^tally> owt eno \(2 words, by \{app:workers\|[^}]+\}\)\ntally> cba \(1 words, by \{app:workers\|[^}]+\}\)\ntally> \nbye after 2 lines\n$/);
    const workers = [...stdout.matchAll(/by (\{[^}]+\})/g)].map((match) => match[1]);
    assert.notEqual(workers[0], workers[1], "each line is measured by a process of its own");
  });

  test("line-tally: the end of input ends the session like an empty line", async () => {
    const { code, stdout } = await exec("line-tally", "app:client", [], {}, "");
    assert.equal(code, 0);
    assert.equal(stdout, "tally> \nbye after 0 lines\n");
  });

  test("ping-pong: two services find each other by name and rally three times", async () => {
    const run = taskrt("ping-pong", []);
    await run.until(/"msg":"game over"/);
    const log = messages(run.stdout());
    assert.deepEqual(
      log.filter((msg) => /^(pong ready|rally \d|game over)$/.test(msg)),
      ["pong ready", "rally 1", "rally 2", "rally 3", "game over"],
    );
    assert.match(run.stdout(), /"msg":"rally 3","entry":"app:ping_actor","hits":3/);
    await stopped(run);
  });

  test("ticker: a service logs a beat per tick and, on SIGTERM, its CANCEL handler reports the count", async () => {
    const run = taskrt("ticker", []);
    await run.until(/"msg":"beat 3"/);
    run.child.kill("SIGTERM");
    assert.equal(await run.exited, 0, run.stderr());
    const log = messages(run.stdout());
    const beats = log.filter((msg) => msg.startsWith("beat ")).length;
    assert.ok(beats >= 3);
    assert.match(run.stdout(), new RegExp(`"msg":"heartbeat stopped","entry":"app:heartbeat_process","beats":${beats}`));
  });

  test("hello-http: a router prefix with unqualified references, a text endpoint and a typed JSON echo", async () => {
    const run = taskrt("hello-http", ["-o", "app:gateway:addr=127.0.0.1:0"]);
    const [, base] = await run.until(/listening on (http:\/\/\S+)/, "stderr");
    const hello = await fetch(`${base}/api/hello?name=Ada`);
    assert.equal(hello.status, 200);
    assert.equal(await hello.text(), "Hello, Ada!\n");
    const echo = await fetch(`${base}/api/echo`, { method: "POST", body: JSON.stringify({ text: "hi", tags: ["a", "b"] }) });
    assert.equal(echo.status, 201);
    assert.deepEqual(await echo.json(), { text: "HI", tags: 2 });
    const bad = await fetch(`${base}/api/echo`, { method: "POST", body: "nope" });
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { error: "send a JSON object with a text field" });
    await stopped(run);
  });
});
