import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { acquireOwnerLock, ownerIsDead, ownersDirectory } from "./sqlite-owner-lock.ts";

const root = mkdtempSync(path.join(tmpdir(), "taskrt-owner-lock-"));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDatabase = () => path.join(root, `case-${++counter}`, "queue.db");

test("a lock held in this process is alive, to every driver of the process, and its file goes with the last release", () => {
  const database = freshDatabase();
  const first = acquireOwnerLock(database);
  const second = acquireOwnerLock(database);
  assert.equal(second.owner, first.owner, "one owner per process and database");
  assert.equal(first.directory, ownersDirectory(database));
  assert.equal(ownerIsDead(first.directory, first.owner), false);
  first.release();
  first.release();
  assert.deepEqual(readdirSync(first.directory).filter((name) => name.endsWith(".lock")), [`${first.owner}.lock`], "a second release of one handle changes nothing");
  second.release();
  assert.deepEqual(readdirSync(first.directory), []);
  const again = acquireOwnerLock(database);
  assert.notEqual(again.owner, first.owner, "an owner id is never reused");
  again.release();
});

test("an owner whose lock file is missing, or unlocked (left by a crash), is dead; the unlocked file is deleted", () => {
  const database = freshDatabase();
  const directory = ownersDirectory(database);
  mkdirSync(directory, { recursive: true });
  assert.equal(ownerIsDead(directory, "NeverExisted"), true);
  new Database(path.join(directory, "CrashedOwner.lock")).close();
  assert.equal(ownerIsDead(directory, "CrashedOwner"), true);
  assert.equal(existsSync(path.join(directory, "CrashedOwner.lock")), false);
});

test("a value that is not an owner id is never judged dead, so no path outside the folder is touched", () => {
  const directory = ownersDirectory(freshDatabase());
  for (const owner of ["../queue", "short", "", "a/b/c/d/e/f", "with space!"]) assert.equal(ownerIsDead(directory, owner), false, owner);
});

test("the first lock taken on a database clears the lock files of owners that died, and keeps its own", () => {
  const database = freshDatabase();
  const directory = ownersDirectory(database);
  mkdirSync(directory, { recursive: true });
  new Database(path.join(directory, "DiedEarlier1.lock")).close();
  writeFileSync(path.join(directory, "DiedEarlier1.lock-journal"), "");
  writeFileSync(path.join(directory, "notes.txt"), "not a lock file");
  const lock = acquireOwnerLock(database);
  const left = readdirSync(directory);
  assert.deepEqual(left.filter((name) => name.startsWith("DiedEarlier1")), [], "the dead owner's lock file and journal");
  assert.ok(left.includes(`${lock.owner}.lock`) && left.includes("notes.txt"), left.join(", "));
  lock.release();
});
