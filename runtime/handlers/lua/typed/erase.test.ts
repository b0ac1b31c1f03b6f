import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { callLua, createTestEngine } from "../test-support.ts";
import { eraseTypes, LuaSyntaxError, prepareLua } from "./erase.ts";

const CORPUS = path.join(path.dirname(fileURLToPath(import.meta.url)), "corpus");
const REPOSITORY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");

/** The corpus: typed files, each naming on its first line the value its `main` returns. */
const corpus = readdirSync(CORPUS)
  .filter((name) => name.endsWith(".lua"))
  .map((name) => {
    const code = readFileSync(path.join(CORPUS, name), "utf8");
    const expected = /^-- expect: (.*)$/m.exec(code)?.[1];
    assert.ok(expected, `${name} names the value it returns on a line "-- expect: <json>"`);
    return { name, code, expected: JSON.parse(expected) as unknown };
  });

/** Where each line break is: erasure must leave every one where it was. */
const lineBreaks = (code: string): number[] => [...code.matchAll(/\r\n|\r|\n/g)].map((match) => match.index!);

function syntaxError(code: string): string {
  try {
    eraseTypes(code);
  } catch (error) {
    assert.ok(error instanceof LuaSyntaxError, String(error));
    return error.message;
  }
  assert.fail("the code was accepted");
}

describe("typed Lua: the corpus of every construct Wippy's type documentation shows", () => {
  for (const { name, code, expected } of corpus) {
    test(`${name}: runs with its types erased and returns what it says`, async () => {
      const engine = await createTestEngine(code, { fileName: `corpus/${name}` });
      try {
        assert.deepEqual(await callLua(engine, "main", []), { value: expected });
      } finally {
        engine.close();
      }
    });

    test(`${name}: erasure keeps every line and column (same length, same line breaks)`, () => {
      const erased = eraseTypes(code);
      assert.equal(erased.length, code.length);
      assert.deepEqual(lineBreaks(erased), lineBreaks(code));
      // Only type syntax became spaces: each character kept is the one written there.
      for (let at = 0; at < code.length; at++) if (erased[at] !== " ") assert.equal(erased[at], code[at], `${name} at offset ${at}`);
    });
  }

  test("only the plain file goes through unchanged; every typed one has something erased", () => {
    for (const { name, code } of corpus) assert.equal(eraseTypes(code) === code, name === "plain.lua", name);
  });
});

describe("typed Lua: what stays where it was", () => {
  test("every untyped Lua file in this repository passes through byte for byte", () => {
    const files = execFileSync("git", ["ls-files", "*.lua"], { cwd: REPOSITORY, encoding: "utf8" }).trim().split("\n");
    const untyped = files.filter((file) => !file.includes("/typed/corpus/") && !file.includes("wippy-tutorial-typed/") && !file.includes("fixtures/wippy-style/") && !file.endsWith("broken.lua"));
    assert.ok(untyped.length >= 5, untyped.join(", "));
    for (const file of untyped) {
      const code = readFileSync(path.join(REPOSITORY, file), "utf8");
      assert.equal(eraseTypes(code), code, file);
    }
  });

  test("erased types turn into spaces exactly where they were written", () => {
    assert.equal(eraseTypes("local task: Task = {}\n"), "local task       = {}\n");
    assert.equal(eraseTypes("type T = {\n  a: number,\n}\nlocal x = 1"), "          \n            \n \nlocal x = 1");
    assert.equal(eraseTypes("local function f<T>(x: T?): (T, string?) return x end"), "local function f   (x    )               return x end");
    assert.equal(eraseTypes("local n = (v :: number) + (w as integer) + (u!).x"), "local n = (v          ) + (w           ) + (u ).x");
  });

  test("a runtime error after erased multi-line types reports the line and column it was written at", async () => {
    const code = "type Task = {\n  id: string,\n  data: any?\n}\nlocal function handler(task: Task): string\n  return task.missing.field\nend\nreturn { handler = handler }";
    const engine = await createTestEngine(code, { fileName: "src/typed.lua" });
    try {
      const result = await callLua(engine, "handler", [{ id: "1" }]);
      assert.match(String((result as { error: Error }).error.message), /^src\/typed\.lua:6: attempt to index a nil value \(field 'missing'\)/);
    } finally {
      engine.close();
    }
  });

  test("a label right after a call statement stays a label, and a cast right after an expression is a cast", () => {
    assert.equal(eraseTypes("f()\n::top::\ngoto top"), "f()\n::top::\ngoto top");
    assert.equal(eraseTypes("local a = b :: T\n::top::"), "local a = b     \n::top::");
  });
});

describe("typed Lua: syntax errors are located by line and column, in lua's words", () => {
  test("an annotation without its type", () => {
    assert.equal(syntaxError("local task: = 1"), "1:13: type expected near '='");
  });

  test("a record type left open names where it opened", () => {
    assert.equal(syntaxError("type Task = {\n  id: string,\n  data: any\n\nlocal x = 1"), "5:1: '}' expected (to close '{' at line 1) near 'local'");
  });

  test("a function left open names the line of its `function`", () => {
    assert.equal(syntaxError("local function f(a: number): number\n  return a\n"), "3:1: 'end' expected (to close 'function' at line 1) near <eof>");
  });

  test("a parameter with two annotations", () => {
    assert.equal(syntaxError("local function f(a: number: string) end"), "1:27: ')' expected near ':'");
  });

  test("a type declaration without `=`", () => {
    assert.equal(syntaxError("type Point {x: number}"), "1:12: '=' expected near '{'");
    assert.equal(syntaxError("type Point<T> {x: T}"), "1:15: '=' expected near '{'");
  });

  test("plain Lua mistakes are located too", () => {
    assert.equal(syntaxError("local x = 1\nlocal y = = 2"), "2:11: unexpected symbol near '='");
    assert.equal(syntaxError('local s = "open\nreturn s'), "1:16: unfinished string near '\"open'");
    assert.equal(syntaxError("local n = 3x"), "1:11: malformed number near '3x'");
    assert.equal(syntaxError("--[[ never closed"), "1:18: unfinished long comment near <eof>");
    assert.equal(syntaxError("x = 1 end"), "1:7: <eof> expected near 'end'");
  });

  test("the engine reports the typed file's error as file:line:column", async () => {
    await assert.rejects(createTestEngine("local task: Task = {}\nlocal bad: = 2\nreturn {}", { fileName: "src/create_task.lua" }), {
      code: "E_SOURCE_INVALID",
      message: "app:test: src/create_task.lua:2:12: type expected near '='",
    });
  });
});

describe("typed Lua: Wippy's runtime type values are refused, not left to call nil", () => {
  test("a declared type read as a value is found, located; types read as types are not", () => {
    const code = "type Point = {x: number}\nlocal p: Point = Point(data)\nlocal ok = Point:is(p)\nlocal t: typeof(p) = p\nlocal kind = typeof(p)\n";
    assert.deepEqual(prepareLua(code).typeValues, [
      { name: "Point", line: 2, column: 18 },
      { name: "Point", line: 3, column: 12 },
      { name: "typeof", line: 5, column: 14 },
    ]);
  });

  test("Wippy's built-in type values are found too; Lua's string library is one only when called", () => {
    const code = "local n = integer(x)\nlocal k = Number:kind()\nlocal s = string(x)\nlocal u = string.upper(s)\n";
    assert.deepEqual(prepareLua(code).typeValues.map(({ name, line }) => [name, line]), [
      ["integer", 1],
      ["Number", 2],
      ["string(…)", 3],
    ]);
  });

  test("a name also bound as a value anywhere in the file is never taken for a type", () => {
    const code = "type Account = {balance: number}\nlocal Account = {}\nfunction Account.new(): Account return setmetatable({}, Account) end\nlocal function typeof(x) return type(x) end\nreturn typeof(Account)\n";
    assert.deepEqual(prepareLua(code).typeValues, []);
  });

  test("loading such a source fails at the use, saying what taskrt does not support", async () => {
    await assert.rejects(createTestEngine("type User = {name: string}\nlocal function handler(data: any)\n    local user = User(data)\n    return user.name\nend\nreturn { handler = handler }", { fileName: "src/user.lua" }), {
      code: "E_SOURCE_INVALID",
      message: "app:test: src/user.lua:3:18: type 'User' is used as a value (User(…) validates, User:is(…) tests, in Wippy); taskrt erases types before Lua runs, so runtime type values are not supported",
    });
  });
});
