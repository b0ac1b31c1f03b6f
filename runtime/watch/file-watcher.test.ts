import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { FileWatcher } from "./file-watcher.ts";

const directory = mkdtempSync(path.join(tmpdir(), "taskrt-file-watcher-"));
after(() => rmSync(directory, { recursive: true, force: true }));

describe("FileWatcher", () => {
  test("reports the changed files together, sorted, once they are quiet, replacing a file by rename included", async () => {
    const changes: string[][] = [];
    let changed!: () => void;
    const reported = new Promise<void>((resolve) => (changed = resolve));
    const watcher = new FileWatcher({ debounceMs: 50, onChange: (files) => (changes.push(files), changed()), onError: () => {} });
    const index = path.join(directory, "_index.yaml");
    writeFileSync(index, "a: 1\n");
    watcher.add([index]);
    try {
      writeFileSync(path.join(directory, "b.ts"), "export {};\n");
      // How editors save: write a temporary file, then rename it over the original.
      writeFileSync(path.join(directory, ".index.yaml.tmp"), "a: 2\n");
      renameSync(path.join(directory, ".index.yaml.tmp"), index);
      writeFileSync(path.join(directory, "tasks.db-wal"), "ignored");
      await reported;
      assert.deepEqual(changes, [[path.join(directory, "_index.yaml"), path.join(directory, "b.ts")]]);
    } finally {
      watcher.close();
    }
  });

  test("a file is not delivered again while it holds what was last delivered or read", async () => {
    const changes: string[][] = [];
    let changed: () => void = () => {};
    const watcher = new FileWatcher({ debounceMs: 50, onChange: (files) => (changes.push(files), changed()), onError: () => {} });
    const nextChange = () => new Promise<void>((resolve) => (changed = resolve));
    const subdirectory = mkdtempSync(path.join(directory, "again-"));
    const [a, b, c, d] = ["a.ts", "b.ts", "c.ts", "d.ts"].map((name) => path.join(subdirectory, name));
    writeFileSync(a, "export const a = 0;\n");
    watcher.add([a, b]);
    try {
      // Writes made in one turn reach the watcher in one batch: each step below is one delivery.
      let reported = nextChange();
      writeFileSync(a, "export const a = 1;\n");
      await reported;
      reported = nextChange();
      writeFileSync(a, "export const a = 1;\n");
      writeFileSync(b, "export const b = 1;\n");
      await reported;
      reported = nextChange();
      writeFileSync(c, "export const c = 1;\n");
      // As a reload does before it reads the files: c's event, still on its way, is then no change.
      watcher.noteRead([c]);
      writeFileSync(d, "export const d = 1;\n");
      await reported;
      assert.deepEqual(changes, [[a], [b], [d]]);
    } finally {
      watcher.close();
    }
  });

  test("a directory that cannot be watched is reported by name and error", () => {
    const errors: string[] = [];
    const watcher = new FileWatcher({ debounceMs: 50, onChange: () => {}, onError: (missing, error) => errors.push(`${missing}: ${(error as NodeJS.ErrnoException).code}`) });
    watcher.add([path.join(directory, "missing", "x.ts")]);
    watcher.close();
    assert.deepEqual(errors, [`${path.join(directory, "missing")}: ENOENT`]);
  });
});
