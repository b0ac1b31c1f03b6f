/**
 * @module drivers/sql/sqlite-writer/protocol — the messages between a threaded SQLite database
 * (main thread) and its writer thread, and how errors cross between them.
 *
 * Each side sends what it queued in one turn of its event loop as one array. Requests carry an
 * `id` the answer names; an interactive transaction carries a `tx` id on every message, and the
 * worker runs its messages in order inside the real transaction.
 */
import { TaskrtError } from "../../../errors.ts";
import type { BatchStep, ExecResult, SqlRow } from "../driver.ts";
import type { SqliteSynchronous } from "../sqlite-connection.ts";

/** What the worker needs to build the `SqliteDatabase` it hosts (the options without the logger). */
export interface WriterSettings {
  id: string;
  file: string;
  busyTimeoutMs: number;
  synchronous: SqliteSynchronous;
  closeTimeoutMs: number;
  batchMaxTransactions?: number;
  batchMaxMs?: number;
  readConnection?: boolean;
}

export type { BatchStep };

/** A method call on a queue driver living in the writer, or on one of its deliveries (see queue-host.ts). */
export type QueueCall = { driverId: string; method: string; args: unknown[] } | { delivery: number; method: string; args: unknown[] };

/** The settings a SQLite queue driver is created with in the writer. */
export interface QueueDriverSettings {
  driverId: string;
  ackTimeoutMs: number;
  pollIntervalMs: number;
  commitWindowMs: number;
}
export type StatementKind = "query" | "execute";

export type ToWriter =
  | { t: "open"; id: number }
  | { t: "close"; id: number }
  /** A statement from outside any transaction (a lone write, or a read the main thread cannot run). */
  | { t: "run"; id: number; kind: StatementKind; sql: string; params?: readonly unknown[] }
  /** Statements that commit together or not at all: one transaction of the group commit. */
  | { t: "batch"; id: number; steps: BatchStep[] }
  /** Opens transaction `tx`; its `end`/`fail` answers once it committed or rolled back. */
  | { t: "begin"; tx: number }
  | { t: "op"; tx: number; id: number; kind: StatementKind; sql: string; params?: readonly unknown[] }
  /** A queue driver call inside transaction `tx` (a publish or settlement joining it). */
  | { t: "queue-op"; tx: number; id: number; call: QueueCall }
  /** A savepoint inside `tx`: the following ops belong to it until its `unnest`. */
  | { t: "nest"; tx: number }
  | { t: "unnest"; tx: number; id: number; ok: boolean }
  | { t: "end"; tx: number; id: number }
  | { t: "fail"; tx: number; id: number }
  /** Creates and starts a queue driver on the hosted database; answers `{durable}`. */
  | { t: "queue-open"; id: number; settings: QueueDriverSettings }
  | { t: "queue-close"; id: number; driverId: string }
  | { t: "queue-call"; id: number; call: QueueCall }
  /** Starts a consumer; its deliveries come back as `delivery` messages naming `subscription`. */
  | { t: "consume"; id: number; driverId: string; subscription: number; queueName: string; options: unknown }
  | { t: "cancel"; id: number; subscription: number };

export interface OpenedAnswer {
  journalMode: string;
  path: string;
}

export type AnswerValue = SqlRow[] | ExecResult | ExecResult[] | OpenedAnswer | null | unknown;

export type FromWriter =
  | { t: "done"; id: number; value: AnswerValue }
  | { t: "error"; id: number; error: WireError }
  | { t: "delivery"; subscription: number; delivery: number; message: unknown }
  | { t: "log"; level: "debug" | "info" | "warn" | "error"; message: string; fields?: Record<string, unknown>; entry?: string };

/** An error as it crosses threads: a TaskrtError keeps its code, entry and hint. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  entryId?: string;
  hint?: string;
  /** The driver's own error under a TaskrtError (better-sqlite3's, with its SQLITE_* code). */
  cause?: WireError;
}

export function errorToWire(error: unknown, depth = 0): WireError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const code = (error as { code?: unknown }).code;
  const wire: WireError = { name: error.name, message: error.message, code: typeof code === "string" ? code : undefined };
  if (error instanceof TaskrtError) {
    wire.entryId = error.entryId;
    wire.hint = error.hint;
  }
  if (error.cause !== undefined && depth < 2) wire.cause = errorToWire(error.cause, depth + 1);
  return wire;
}

/** A TaskrtError comes back as one, with its code, entry, hint and cause; another error as an Error of its name and code. */
export function errorFromWire(wire: WireError): Error {
  const cause = wire.cause && errorFromWire(wire.cause);
  if (wire.name === "TaskrtError" && wire.code !== undefined) return new TaskrtError(wire.code, wire.message, { entryId: wire.entryId, hint: wire.hint, cause });
  const error = new Error(wire.message, cause === undefined ? undefined : { cause });
  error.name = wire.name;
  if (wire.code !== undefined) Object.assign(error, { code: wire.code });
  return error;
}
