/**
 * @module bench/baselines/task-request — what every baseline does with a POST /tasks body and a
 * task, written plainly: check it as the app does, give it a time-ordered id, perform its action.
 */
import { randomBytes } from "node:crypto";

export interface Task {
  id: string;
  action: string;
  data: Record<string, unknown>;
  created_at: number;
}

export type TaskRequest = { task: Task } | { error: string };

/** The app's checks on a parsed body: an action string, and data an object when present. */
export function toTask(body: unknown): TaskRequest {
  const fields = body !== null && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  if (typeof fields.action !== "string" || fields.action === "") return { error: "action required" };
  const data = fields.data ?? {};
  if (data === null || typeof data !== "object" || Array.isArray(data)) return { error: "data must be an object" };
  return { task: { id: timeOrderedId(), action: fields.action, data: data as Record<string, unknown>, created_at: Date.now() } };
}

/** A UUIDv7, like the app's ids, so rows land at the end of the primary-key index as theirs do. */
export function timeOrderedId(): string {
  const bytes = randomBytes(16);
  const now = Date.now();
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = 0x70 | (bytes[6] & 0x0f);
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The tutorial's actions: uppercase a text, sum numbers, anything else is "processed". */
export function perform(task: Task): { output: unknown } {
  switch (task.action) {
    case "uppercase":
      return { output: String(task.data.text ?? "").toUpperCase() };
    case "sum": {
      const numbers = Array.isArray(task.data.numbers) ? task.data.numbers : [];
      return { output: numbers.reduce((total: number, value) => total + Number(value), 0) };
    }
    default:
      return { output: "processed" };
  }
}

/** The app's tasks table and index, so a baseline's INSERT costs what the app's does. */
export const TASKS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    result TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    processed_at BIGINT
  );
  CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (status, id);`;

/** The port a baseline server listens on, from its environment. */
export function portFromEnvironment(): number {
  const port = Number(process.env.PORT);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`);
  return port;
}

/** An environment variable the baseline cannot run without. */
export function requiredEnvironment(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set`);
  return value;
}
