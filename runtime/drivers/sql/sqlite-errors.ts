/**
 * @module drivers/sql/sqlite-errors — the errors the SQLite driver raises, each naming the database
 * entry, what happened and the fix, so every code path words the same failure the same way.
 */
import fs from "node:fs";
import path from "node:path";
import { TaskrtError, errorMessage } from "../../errors.ts";

/** A better-sqlite3 error as an E_SQL (or E_SQL_CONSTRAINT) naming the database; a TaskrtError passes through. */
export function sqlError(id: string, file: string, error: unknown): TaskrtError {
  if (error instanceof TaskrtError) return error;
  const sqliteCode = (error as { code?: unknown }).code;
  const code = typeof sqliteCode === "string" && sqliteCode.startsWith("SQLITE_CONSTRAINT") ? "E_SQL_CONSTRAINT" : "E_SQL";
  return new TaskrtError(code, `sql failed on ${id}: ${errorMessage(error)}`, {
    entryId: id,
    cause: error,
    hint: typeof sqliteCode === "string" ? hintFor(sqliteCode, file) : undefined,
  });
}



export function endedInsideError(id: string): TaskrtError {
  return new TaskrtError("E_SQL", `sql failed on ${id}: the transaction was ended inside SQLite (rolled back after an error, or by a COMMIT/ROLLBACK statement)`, {
    entryId: id,
    hint: "after a failed statement, throw from the transaction function instead of carrying on; never send BEGIN, COMMIT or ROLLBACK yourself",
  });
}

/** COMMIT, ROLLBACK, BEGIN or END sent inside `transaction()`: it would end the batch other callers share. */
export function transactionControlError(id: string, keyword: string): TaskrtError {
  return new TaskrtError("E_SQL", `sql failed on ${id}: ${keyword} cannot run inside transaction(); the transaction commits when its function resolves and rolls back when it throws`, {
    entryId: id,
    hint: "return from the function to commit, throw to roll back, and call transaction() inside it for a savepoint",
  });
}

/** A transaction that finished well, but whose batch another transaction ended inside SQLite before the COMMIT. */
export function batchRolledBackError(id: string): TaskrtError {
  return new TaskrtError("E_SQL", `sql failed on ${id}: the transaction was rolled back before its commit, because another transaction in the same commit batch ended the batch inside SQLite`, {
    entryId: id,
    hint: "nothing of this transaction was committed, so running it again is safe; the other transaction failed with the cause (an INSERT OR ROLLBACK, a RAISE(ROLLBACK) trigger, or a disk error)",
  });
}

/** A transaction that finished well, but whose batch was still open when `close()` stopped waiting. */
export function closedBeforeCommitError(id: string): TaskrtError {
  return new TaskrtError("E_DB_UNAVAILABLE", `database ${id} was closed before the transaction committed; SQLite rolled it back`, {
    entryId: id,
    hint: "nothing of this transaction was committed; a transaction in the same commit batch did not finish within the close timeout",
  });
}

export function cannotOpenError(id: string, file: string, reason: string, cause: unknown): TaskrtError {
  return new TaskrtError("E_DB_UNAVAILABLE", `cannot open database ${id} at ${file}: ${reason}`, {
    entryId: id,
    cause,
    hint: "point `file` at a database file in a folder the process can create and write, or use \":memory:\"",
  });
}

/** SQLite says only "unable to open database file"; the file system says why. */
export function diagnoseOpenFailure(file: string, error: unknown): string {
  try {
    if (fs.statSync(file).isDirectory()) return "the path is a directory";
    fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK);
  } catch (osError) {
    if ((osError as NodeJS.ErrnoException).code !== "ENOENT") return errorMessage(osError);
    try {
      fs.accessSync(path.dirname(file), fs.constants.W_OK | fs.constants.X_OK);
    } catch (folderError) {
      return `its folder is not writable: ${errorMessage(folderError)}`;
    }
  }
  return errorMessage(error);
}

function hintFor(sqliteCode: string, file: string): string | undefined {
  if (sqliteCode.startsWith("SQLITE_READONLY")) {
    return `the database is read-only: check that ${file} and its folder are writable, the disk has space, and PRAGMA query_only is off`;
  }
  if (sqliteCode.startsWith("SQLITE_BUSY")) return "another connection held the database lock longer than busy_timeout";
  if (sqliteCode === "SQLITE_FULL") return "the disk is full";
  if (sqliteCode.startsWith("SQLITE_IOERR")) return `reading or writing ${file} failed: check the disk`;
  return undefined;
}
