/**
 * @module duration — Go-style durations (`100ms`, `1m30s`, `2h`) and plain numbers (milliseconds),
 * as registries and `time.sleep` write them.
 */
import { TaskrtError } from "./errors.ts";

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;

/** Milliseconds for `"1m30s"`, `"100ms"`, `"0"` or a number (taken as milliseconds). */
export function parseDuration(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw invalid(value);
    return value;
  }
  const text = value.trim();
  if (text === "0") return 0;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  let total = 0;
  PART.lastIndex = 0;
  let position = 0;
  while (position < text.length) {
    PART.lastIndex = position;
    const match = PART.exec(text);
    if (!match) throw invalid(value);
    total += Number(match[1]) * UNIT_MS[match[2]];
    position = PART.lastIndex;
  }
  if (position === 0) throw invalid(value);
  return total;
}

function invalid(value: unknown): TaskrtError {
  return new TaskrtError("E_DURATION", `invalid duration ${JSON.stringify(value)}`, {
    hint: 'write a number of milliseconds or a duration such as "250ms", "10s", "1m30s"',
  });
}

/** The longest wait a Node.js timer holds: a longer one fires after 1ms instead. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Exact, in the form registries write: 2147483647 → "596h31m23.647s", 90000 → "1m30s". */
export function formatDurationExact(ms: number): string {
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = +((ms % 60_000) / 1000).toFixed(3);
  const text = `${hours ? `${hours}h` : ""}${minutes ? `${minutes}m` : ""}${seconds ? `${seconds}s` : ""}`;
  return text === "" ? "0s" : text;
}

/** Human form for logs and messages: 1500 → "1.5s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(2)}s`;
  return `${+(ms / 60_000).toFixed(2)}m`;
}
