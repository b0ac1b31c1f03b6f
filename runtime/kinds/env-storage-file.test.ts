import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseEnvFile, setInEnvFile } from "./env-storage-file.ts";

describe("env.storage.file's format", () => {
  test("KEY=VALUE lines; blank lines, # lines and text after # are skipped; quotes are kept", () => {
    const text = "# settings\n\nAPP_NAME=Wippy Env Demo\nPORT = 8080 # the default\nQUOTED=\"a b\"\nnot a pair\n=no key\n";
    assert.deepEqual(Object.fromEntries(parseEnvFile(text)), { APP_NAME: "Wippy Env Demo", PORT: "8080", QUOTED: '"a b"' });
  });

  test("a set replaces the key's line in place, keeping comments, or appends one", () => {
    const text = "# settings\nA=1\nB=2\n";
    assert.equal(setInEnvFile(text, "B", "3"), "# settings\nA=1\nB=3\n");
    assert.equal(setInEnvFile(text, "C", "x"), "# settings\nA=1\nB=2\nC=x\n");
    assert.equal(setInEnvFile("", "A", "1"), "A=1\n");
  });
});
