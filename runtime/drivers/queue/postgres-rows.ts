/**
 * @module drivers/queue/postgres-rows — the PostgreSQL queue's rows as the driver hands them out:
 * leased (to a consumer), browsed (by an operator), dead (in a dead-letter listing).
 */
import type { SqlRow } from "../sql/driver.ts";
import type { BrowsedMessage, DeadMessage, Headers } from "./driver.ts";
import type { LeasedRow } from "./sqlite-schema.ts";

export function numberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

export function leasedRow(row: SqlRow): LeasedRow {
  return {
    seq: Number(row.seq),
    id: row.id as string,
    body: row.body as string,
    headers: row.headers as string | null,
    priority: Number(row.priority),
    available_at: Number(row.available_at),
    attempts: Number(row.attempts),
    last_error: row.last_error as string | null,
    created_at: Number(row.created_at),
  };
}

/** As an operator browses it: decoded where it can be, the stored text where it cannot. */
export function browsedMessage(row: SqlRow, inFlight: boolean): BrowsedMessage {
  const body = row.body as string;
  const headers = row.headers as string | null;
  const message: BrowsedMessage = {
    id: row.id as string,
    body: parseOr(body, body),
    headers: headers === null ? {} : (parseOr(headers, {}) as Headers),
    priority: Number(row.priority),
    attempts: Number(row.attempts),
    publishedAt: new Date(Number(row.created_at)),
  };
  const availableAt = numberOrNull(inFlight ? row.lease_until : row.available_at);
  if (availableAt !== null) message.availableAt = new Date(availableAt);
  if (row.progress !== null && row.progress !== undefined) message.progress = parseOr(row.progress as string, row.progress);
  if (row.last_error !== null && row.last_error !== undefined) message.lastError = row.last_error as string;
  return message;
}

function parseOr(text: string, fallback: unknown): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

/** As a delivery would show it (headers with their publish timestamp), the body as stored when it is not JSON. */
export function deadMessage(row: SqlRow): DeadMessage {
  const stored = row.body as string;
  let body: unknown = stored;
  let headers: Headers = {};
  try {
    body = JSON.parse(stored);
    if (row.headers !== null) headers = JSON.parse(row.headers as string);
  } catch {
    // A row buried because it could not be decoded: listed as it is stored.
  }
  if (headers.timestamp === undefined) headers.timestamp = Math.floor(Number(row.created_at) / 1000);
  return { id: row.id as string, body, headers, attempts: Number(row.attempts), error: (row.last_error as string | null) ?? "", diedAt: new Date(Number(row.available_at)) };
}

