/**
 * @module drivers/sql/postgres-errors — the PostgreSQL driver's errors: sorting a pg failure into
 * "the statement is wrong" (E_SQL, E_SQL_CONSTRAINT) or "the server is gone" (E_DB_UNAVAILABLE),
 * worded with the entry id and `host:port/database`, never the credentials.
 */
import pg from "pg";
import { TaskrtError, errorMessage } from "../../errors.ts";
import { formatDuration } from "../../duration.ts";

/** SQLSTATEs meaning the server went away or refuses connections, not that the statement is wrong. */
const SERVER_GONE = new Set(["57P01", "57P02", "57P03"]);
/** What pg-pool says when no pooled connection became free in time (no SQLSTATE, no errno). */
const POOL_WAIT_TIMEOUT = "timeout exceeded when trying to connect";

/** What an E_DB_UNAVAILABLE message needs to know about the pool it came from. */
export interface ServerSide {
  id: string;
  /** `host:port/database`. */
  target: string;
  connectTimeoutMs: number;
  maxOpen: number;
}

/** A failed statement: `gone` when the connection or server failed (the caller drops the connection). */
export function classifyFailure(id: string, error: unknown, connectionFailed: boolean): { gone: boolean; error: TaskrtError | undefined } {
  if (error instanceof TaskrtError) return { gone: false, error };
  if (error instanceof pg.DatabaseError) {
    const sqlState = error.code ?? "";
    if (sqlState.startsWith("08") || SERVER_GONE.has(sqlState)) return { gone: true, error: undefined };
    const code = sqlState.startsWith("23") ? "E_SQL_CONSTRAINT" : "E_SQL";
    return { gone: false, error: new TaskrtError(code, `sql failed on ${id}: ${error.message}`, { entryId: id, cause: error, hint: error.hint }) };
  }
  if (connectionFailed || isConnectionError(error)) return { gone: true, error: undefined };
  return { gone: false, error: new TaskrtError("E_SQL", `sql failed on ${id}: ${errorMessage(error)}`, { entryId: id, cause: error }) };
}

/** `<what> postgres app:db at 127.0.0.1:5432/test: <why>`, e.g. `cannot connect to` or `lost the connection to`. */
export function unavailable(server: ServerSide, what: string, error: unknown): TaskrtError {
  let reason = reasonOf(error);
  if (reason === POOL_WAIT_TIMEOUT) {
    reason = `no pooled connection became free within ${formatDuration(server.connectTimeoutMs)}: all ${server.maxOpen} (pool.max_open) are busy`;
  } else if (/connection timeout/i.test(reason)) {
    reason = `no answer within ${formatDuration(server.connectTimeoutMs)} (options.connect_timeout)`;
  }
  return new TaskrtError("E_DB_UNAVAILABLE", `${what} postgres ${server.id} at ${server.target}: ${reason}`, {
    entryId: server.id,
    cause: error,
    hint: `check that PostgreSQL is running and reachable at ${server.target}, and that the database, user and password are right`,
  });
}



export function transactionAborted(id: string): TaskrtError {
  return new TaskrtError("E_SQL", `sql failed on ${id}: the transaction was rolled back: a statement in it failed and PostgreSQL refuses to commit after that`, {
    entryId: id,
    hint: "let the failed statement's error propagate out of the transaction function (or wrap the statement in a nested transaction, which is a savepoint)",
  });
}

export function transactionEndedInside(id: string): TaskrtError {
  return new TaskrtError("E_SQL", `sql failed on ${id}: the transaction was ended inside PostgreSQL by a COMMIT or ROLLBACK statement`, {
    entryId: id,
    hint: "never send BEGIN, COMMIT or ROLLBACK yourself: transaction() does",
  });
}

/** Socket-level failures carry a syscall; pg's own connection errors say so in their text. */
function isConnectionError(error: unknown): boolean {
  if (typeof (error as NodeJS.ErrnoException)?.syscall === "string") return true;
  return /^Connection terminated|not queryable|^timeout exceeded when trying to connect/.test(errorMessage(error));
}

/** The message, or for a connect that tried several addresses (an AggregateError has none) each one's. */
export function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.message === "") {
    return [...new Set(error.errors.map((inner) => errorMessage(inner)))].join("; ") || "connection failed";
  }
  const message = errorMessage(error);
  return message === "" ? String((error as { code?: unknown }).code ?? "connection failed") : message;
}
