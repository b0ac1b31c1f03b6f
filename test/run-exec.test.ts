/**
 * `taskrt run DIR -x ns:entry`: one process run to completion with the terminal as its stdin and
 * stdout, as a user runs it: a child process whose stdin the test feeds as the prompts appear.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CLI = path.join(ROOT, "bin", "taskrt.js");
const GREETER = path.join(ROOT, "examples", "terminal-greeter");

interface Run {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout holds `text` (`count` times); rejects if the process ends first. */
  until(text: string, count?: number): Promise<void>;
  exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill("SIGKILL");
});

function run(registry: string, ...args: string[]): Run {
  return runIn(ROOT, registry, ...args);
}

/** `taskrt run ARGS…` from `cwd`; an empty `registry` leaves PATH out. */
function runIn(cwd: string, registry: string, ...args: string[]): Run {
  const child = spawn(process.execPath, [CLI, "run", ...(registry ? [registry] : []), ...args], { cwd, env: { ...process.env, NO_COLOR: "1" }, stdio: ["pipe", "pipe", "pipe"] });
  children.add(child);
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    for (const listener of listeners) listener();
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => (children.delete(child), resolve(code))));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    until: (text, count = 1) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (stdout.split(text).length - 1 >= count) {
            listeners.delete(check);
            resolve();
          }
        };
        listeners.add(check);
        check();
        void exited.then(() => {
          if (listeners.delete(check)) reject(new Error(`the process ended before printing ${JSON.stringify(text)}:\n${stdout}\n--- stderr\n${stderr}`));
        });
      }),
  };
}

function scratchRegistry(files: Record<string, string>): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "taskrt-exec-"));
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

describe("taskrt run -x", () => {
  test("runs the process with the terminal: prompts on stdout, answers read from stdin, exit code from its return", async () => {
    const greeter = run(GREETER, "-x", "app:greet", "--", "one", "two");
    await greeter.until("name? ");
    greeter.child.stdin!.write("ada\n");
    await greeter.until("name? ", 2);
    greeter.child.stdin!.write("bob\n");
    await greeter.until("name? ", 3);
    greeter.child.stdin!.end("\n");
    assert.equal(await greeter.exited, 2, greeter.stderr());
    assert.equal(greeter.stdout(), "arguments:\tone,two\nname? Hello, ADA!\nname? Hello, BOB!\nname? visits:\t2\n");
  });

  test("the end of stdin ends readline: a process reading to the end exits 0 when it greeted no one", async () => {
    const greeter = run(GREETER, "-x", "app:greet");
    greeter.child.stdin!.end();
    assert.equal(await greeter.exited, 0, greeter.stderr());
    assert.equal(greeter.stdout(), "name? visits:\t0\n");
  });

  test("from the project folder without a PATH, as `wippy run -x host/entry args` is written", async () => {
    const greeter = runIn(GREETER, "", "-x", "app:terminal/app:greet", "first", "--", "second");
    greeter.child.stdin!.end("eve\n");
    assert.equal(await greeter.exited, 1, greeter.stderr());
    assert.equal(greeter.stdout(), "arguments:\tfirst,second\nname? Hello, EVE!\nname? visits:\t1\n");
  });

  test("a process with meta.command.name runs by that name, and `run list` lists the commands", async () => {
    const greeter = runIn(GREETER, "", "greet", "x");
    greeter.child.stdin!.end("zoe\n");
    assert.equal(await greeter.exited, 1, greeter.stderr());
    assert.equal(greeter.stdout(), "arguments:\tx\nname? Hello, ZOE!\nname? visits:\t1\n");
    const list = run(GREETER, "list");
    assert.equal(await list.exited, 0, list.stderr());
    assert.equal(list.stdout(), "  greet  Greet people by name (app:greet)\n");
    const unknown = run(GREETER, "nope");
    assert.equal(await unknown.exited, 1);
    assert.match(unknown.stderr(), /no command nope: no process entry has meta\.command\.name: nope\n  hint: commands: greet/);
  });

  describe("with a scratch registry", () => {
    const registry = scratchRegistry({
      "_index.yaml": `version: "1.0"
namespace: cli
entries:
  - name: host
    kind: terminal.host
  - name: fail
    kind: process.lua
    source: file://cli.lua
    method: fail
    modules: [io]
  - name: message
    kind: process.lua
    source: file://cli.lua
    method: message
    modules: [io]
  - name: refuse
    kind: process.lua
    source: file://cli.lua
    method: refuse
    modules: [io]
  - name: wait
    kind: process.lua
    source: file://cli.lua
    method: wait
    modules: [io]
  - name: helper
    kind: function.lua
    source: file://cli.lua
    method: message
    modules: [io]
  - name: echo
    kind: function.lua
    source: file://cli.lua
    method: echo
    modules: [io]
  - name: no_terminal
    kind: function.lua
    source: file://cli.lua
    method: no_terminal
    modules: [io]
  - name: call_no_terminal
    kind: process.lua
    source: file://cli.lua
    method: call_no_terminal
    modules: [io, funcs]
`,
      "cli.lua": `local io = require("io")
return {
  fail = function() io.print("before") error("the disk is full") end,
  message = function() return "all done" end,
  echo = function(a, b) return a .. "+" .. b end,
  refuse = function() return false end,
  wait = function() io.print("waiting") local line = io.readline() io.print("got", line) return 0 end,
  no_terminal = function()
    local ok, err = io.print("x")
    return { ok = ok, message = err:message(), kind = err:kind() }
  end,
  call_no_terminal = function()
    local funcs = require("funcs")
    local result = funcs.call("cli:no_terminal")
    io.print(result.kind, result.message)
    return 0
  end,
}`,
    });
    after(() => registry.remove());

    test("a process that raises an error exits 1 and says why on stderr", async () => {
      const failing = run(registry.dir, "-x", "cli:fail");
      assert.equal(await failing.exited, 1);
      assert.equal(failing.stdout(), "before\n");
      assert.match(failing.stderr(), /cli:fail failed: .*the disk is full/);
    });

    test("a returned string is printed to stdout (exit 0); false exits 1", async () => {
      const message = run(registry.dir, "-x", "cli:message");
      assert.equal(await message.exited, 0);
      assert.equal(message.stdout(), "all done\n");
      const refuse = run(registry.dir, "-x", "cli:refuse");
      assert.equal(await refuse.exited, 1);
      assert.equal(refuse.stdout(), "");
    });

    test("io outside a terminal process returns UNAVAILABLE", async () => {
      const caller = run(registry.dir, "-x", "cli:call_no_terminal");
      assert.equal(await caller.exited, 0, caller.stderr());
      assert.equal(caller.stdout(), "UNAVAILABLE\tio: cli:no_terminal has no terminal: io works only in a process run on a terminal (taskrt run -x)\n");
    });

    test("a function runs directly with the arguments, its result printed", async () => {
      const fn = run(registry.dir, "-x", "cli:echo", "hello", "world");
      assert.equal(await fn.exited, 0, fn.stderr());
      assert.equal(fn.stdout(), "hello+world\n");
    });

    test("an unknown entry or a host is refused with a clear message", async () => {
      const unknown = run(registry.dir, "-x", "cli:nope");
      assert.equal(await unknown.exited, 1);
      assert.match(unknown.stderr(), /run -x cli:nope: no such entry/);
      const host = run(registry.dir, "-x", "cli:host");
      assert.equal(await host.exited, 1);
      assert.match(host.stderr(), /run -x cli:host: it is a terminal\.host entry; -x runs a process \(process\.lua, process\.ts\) or a function/);
    });

    test("SIGTERM while the process waits for input cancels it and stops the runtime gracefully", async () => {
      const waiting = run(registry.dir, "-x", "cli:wait");
      await waiting.until("waiting\n");
      waiting.child.kill("SIGTERM");
      assert.equal(await waiting.exited, 130);
      assert.match(waiting.stderr(), /received SIGTERM: stopping/);
      assert.match(waiting.stderr(), /stopped cleanly/);
      assert.equal(waiting.stdout(), "waiting\n");
    });
  });
});
