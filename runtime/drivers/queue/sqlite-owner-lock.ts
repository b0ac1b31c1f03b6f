/**
 * @module drivers/queue/sqlite-owner-lock — a process's proof of life beside a SQLite queue's
 * database, and the probe that tells a dead lease owner from a live one.
 *
 * Each process that leases messages from a database file holds an exclusive SQLite lock on
 * `<database>.owners/<owner>.lock`. SQLite's locks are POSIX fcntl locks, which the OS drops when
 * the process dies, however it dies (kill -9 included). Whoever can take an owner's lock has
 * proved that owner dead; a lock that cannot be taken (SQLITE_BUSY) belongs to a live process.
 *
 * Protocol, which keeps "no lock file" meaning "dead":
 * - an owner id is fresh for every lock acquired (never reused), and leases carry it;
 * - a lock file is deleted only by whoever holds its lock (the owner at release, or a prober
 *   that proved it dead), so a file that exists once its owner holds the lock stays until then;
 * - the owner creates its file, locks it, then checks that it still exists (a prober may have
 *   taken and deleted the fresh, not yet locked file) and starts over if not.
 *
 * One lock per database and process, shared by all the process's drivers on that database:
 * fcntl locks belong to the process, so two drivers of one process must not judge each other.
 * (Should two paths reach one file, SQLite's own in-process lock table still answers BUSY.)
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type BetterSqlite3 from "better-sqlite3";
import { nanoid } from "nanoid";

/** What an owner id may look like (nanoid's alphabet): anything else in a lease is not ours to probe. */
const OWNER_ID = /^[A-Za-z0-9_-]{8,64}$/;
const LOCK_SUFFIX = ".lock";
/** How long taking our own fresh lock waits for a prober that opened it first (a probe takes microseconds). */
const OWN_LOCK_WAIT_MS = 2_000;

export interface OwnerLock {
  /** Goes into every lease this process takes on the database. */
  readonly owner: string;
  /** `<database>.owners`, where every owner's lock file lives. */
  readonly directory: string;
  /** The driver is done with it; the last one of the process deletes the lock file. */
  release(): void;
}

interface HeldLock {
  owner: string;
  file: string;
  connection: BetterSqlite3.Database;
  users: number;
}

/** This process's locks, by owners directory. */
const held = new Map<string, HeldLock>();

export function ownersDirectory(databaseFile: string): string {
  return `${path.resolve(databaseFile)}.owners`;
}

/**
 * Takes (or shares) this process's lock for the database. The first taker also clears the lock
 * files of owners that died, so the folder does not grow with every crash; their leases are
 * recovered by the consumers of their queues (a missing file proves its owner dead).
 * Throws when the folder or file cannot be created or locked; the caller words the error.
 */
export function acquireOwnerLock(databaseFile: string): OwnerLock {
  const directory = ownersDirectory(databaseFile);
  let lock = held.get(directory);
  if (!lock) {
    mkdirSync(directory, { recursive: true });
    lock = takeFreshLock(directory);
    held.set(directory, lock);
    for (const owner of listOwners(directory)) if (owner !== lock.owner) ownerIsDead(directory, owner);
  }
  lock.users++;
  const taken = lock;
  let released = false;
  return {
    owner: taken.owner,
    directory,
    release: () => {
      if (released) return;
      released = true;
      if (--taken.users > 0) return;
      held.delete(directory);
      // Deleted while still locked (the protocol), then unlocked by closing.
      removeLockFile(taken.file);
      taken.connection.close();
    },
  };
}

/**
 * True only when `owner` is provably dead: its lock file is gone, or its lock could be taken (the
 * file is then deleted under that lock). A live owner, an owner of this process, an id that is not
 * an owner id, or a lock that cannot be checked (permissions, I/O) all answer false: leases are
 * only ever taken back on proof.
 */
export function ownerIsDead(directory: string, owner: string): boolean {
  if (!OWNER_ID.test(owner)) return false;
  for (const lock of held.values()) if (lock.owner === owner) return false;
  const file = path.join(directory, owner + LOCK_SUFFIX);
  if (!existsSync(file)) return true;
  let probe: BetterSqlite3.Database | undefined;
  try {
    probe = new Database(file, { fileMustExist: true, timeout: 0 });
    probe.exec("BEGIN EXCLUSIVE");
  } catch {
    probe?.close();
    // Busy: alive. Gone since the check: another prober proved it dead and deleted it.
    return !existsSync(file);
  }
  removeLockFile(file);
  probe.close();
  return true;
}

function takeFreshLock(directory: string): HeldLock {
  for (;;) {
    const owner = nanoid(12);
    const file = path.join(directory, owner + LOCK_SUFFIX);
    const connection = new Database(file, { timeout: OWN_LOCK_WAIT_MS });
    try {
      connection.exec("BEGIN EXCLUSIVE");
    } catch (error) {
      connection.close();
      throw error;
    }
    if (existsSync(file)) return { owner, file, connection, users: 0 };
    connection.close();
  }
}

function listOwners(directory: string): string[] {
  return readdirSync(directory)
    .filter((name) => name.endsWith(LOCK_SUFFIX))
    .map((name) => name.slice(0, -LOCK_SUFFIX.length));
}

function removeLockFile(file: string): void {
  rmSync(file, { force: true });
  rmSync(`${file}-journal`, { force: true });
}
