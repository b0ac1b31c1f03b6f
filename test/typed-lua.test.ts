import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { formatProblem } from "../runtime/errors.ts";
import { checkSnippet } from "./support/registry.ts";

const TYPED_HANDLER = `type Greeting = {text: string, loud: boolean?}

local function handler(name: string): Greeting
    local greeting: Greeting = {text = "hello " .. name}
    return greeting
end

return { handler = handler }
`;

const BROKEN_TYPED = `type Task = {id: string}

local function handler(task: Task): string
    local id: = task.id
    return id
end

return { handler = handler }
`;

describe("validate: typed Lua sources", () => {
  test("a typed source that parses passes, compiled in a Lua worker like any other", async () => {
    const { problems, remove } = await checkSnippet(
      `
      - name: greet
        kind: function.lua
        source: file://greet.lua
        method: handler
      `,
      { files: { "app/greet.lua": TYPED_HANDLER } },
    );
    try {
      assert.deepEqual(problems.map((problem) => formatProblem(problem)), []);
    } finally {
      remove();
    }
  });

  test("a syntax error in a typed source is reported at the Lua file's line and column", async () => {
    const { problems, remove } = await checkSnippet(
      `
      - name: create_task
        kind: function.lua
        source: file://create_task.lua
        method: handler
      `,
      { files: { "app/create_task.lua": BROKEN_TYPED } },
    );
    try {
      assert.deepEqual(
        problems.map((problem) => [problem.code, problem.field, problem.message]),
        [["E_SOURCE_INVALID", "source", "app/create_task.lua:4:15: type expected near '='"]],
      );
    } finally {
      remove();
    }
  });

  test("an entry that fails its schema still has its Lua source checked: both problems are reported", async () => {
    const { problems, remove } = await checkSnippet(
      `
      - name: create_task
        kind: function.lua
        source: file://create_task.lua
        method: handler
        modules: [http, nosuch]
      `,
      { files: { "app/create_task.lua": BROKEN_TYPED } },
    );
    try {
      assert.deepEqual(
        problems.map((problem) => [problem.code, problem.field, problem.location?.line]),
        [
          ["E_SOURCE_INVALID", "source", 6],
          ["E_SCHEMA", "modules[1]", 8],
        ],
      );
      assert.equal(problems[0].message, "app/create_task.lua:4:15: type expected near '='");
    } finally {
      remove();
    }
  });

  test("an entry that fails its schema and names a missing source file gets both problems", async () => {
    const { problems, remove } = await checkSnippet(`
      - name: create_task
        kind: process.lua
        source: file://missing.lua
    `);
    try {
      assert.deepEqual(problems.map((problem) => problem.code).sort(), ["E_SCHEMA", "E_SOURCE_MISSING"]);
    } finally {
      remove();
    }
  });
});

describe("taskrt validate on a typed Lua file with a syntax error", () => {
  test("prints the entry's problem with the Lua file's line and column, and exits 1", async () => {
    const { problems, remove, registry } = await checkSnippet(
      `
      - name: create_task
        kind: function.lua
        source: file://create_task.lua
        method: handler
      `,
      { files: { "app/create_task.lua": BROKEN_TYPED } },
    );
    try {
      assert.equal(problems.length, 1);
      const child = spawn(process.execPath, [path.resolve("bin/taskrt.js"), "validate", "."], { cwd: registry.root, env: { ...process.env, NO_COLOR: "1" } });
      let output = "";
      child.stdout.on("data", (chunk) => (output += chunk));
      child.stderr.on("data", (chunk) => (output += chunk));
      const [code] = await once(child, "exit");
      assert.equal(code, 1, output);
      assert.match(output, /^app\/_index\.yaml:6:5: error E_SOURCE_INVALID \[app:create_task\] app\/create_task\.lua:4:15: type expected near '='$/m);
    } finally {
      remove();
    }
  });
});
