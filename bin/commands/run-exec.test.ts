import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseArgs } from "../args.ts";
import { exitCodeOf, readExecArgs } from "./run-exec.ts";
import { runCommand } from "./run.ts";

const parse = (argv: string[]) => parseArgs(argv, runCommand.flags);
const onDisk = (...paths: string[]) => (path: string) => paths.includes(path);

describe("run -x arguments", () => {
  test("PATH first, then the process's arguments, with everything after --", () => {
    assert.deepEqual(readExecArgs(parse(["project", "-x", "app:cli", "one", "--", "-two"]), "app:cli", onDisk("project")), {
      target: "project",
      processId: "app:cli",
      host: undefined,
      processArgs: ["one", "-two"],
    });
  });

  test("without a PATH that exists, the registry is the working directory and every positional is an argument", () => {
    assert.deepEqual(readExecArgs(parse(["-x", "app:ask", "What is the capital of France?"]), "app:ask", onDisk()), {
      target: ".",
      processId: "app:ask",
      host: undefined,
      processArgs: ["What is the capital of France?"],
    });
  });

  test("-x host/entry names the terminal host, as Wippy's CLI reads it; --host does otherwise", () => {
    assert.equal(readExecArgs(parse(["-x", "app:terminal/app:cli"]), "app:terminal/app:cli", onDisk()).host, "app:terminal");
    assert.equal(readExecArgs(parse(["-x", "app:cli", "--host", "app:tty"]), "app:cli", onDisk()).host, "app:tty");
    assert.throws(() => readExecArgs(parse(["-x", "app:t/"]), "app:t/", onDisk()), /-x takes ns:entry or host\/ns:entry, got 'app:t\/'/);
  });

  test("exit codes follow Wippy's terminal host", () => {
    assert.equal(exitCodeOf({ value: undefined }), 0);
    assert.equal(exitCodeOf({ value: 0 }), 0);
    assert.equal(exitCodeOf({ value: 3 }), 3);
    assert.equal(exitCodeOf({ value: true }), 0);
    assert.equal(exitCodeOf({ value: false }), 1);
    assert.equal(exitCodeOf({ value: "done" }), 0);
    assert.equal(exitCodeOf({ value: { a: 1 } }), 0);
    assert.equal(exitCodeOf({ value: undefined, error: new Error("x") }), 1);
  });
});

describe("named commands (meta.command.name)", () => {
  test("run PATH NAME args…, or run NAME args… from a project folder; a plain run PATH is no command", async () => {
    const { readCommandArgs } = await import("./named-commands.ts");
    assert.deepEqual(readCommandArgs(parse(["project", "migrate", "--", "now"]), onDisk("project")), { target: "project", command: "migrate", host: undefined, processArgs: ["now"] });
    assert.deepEqual(readCommandArgs(parse(["migrate", "fast"]), onDisk("wippy.lock")), { target: ".", command: "migrate", host: undefined, processArgs: ["fast"] });
    assert.equal(readCommandArgs(parse(["project"]), onDisk("project")), undefined);
    assert.equal(readCommandArgs(parse(["missing"]), onDisk()), undefined, "outside a project folder a missing PATH stays a missing PATH");
  });
});
