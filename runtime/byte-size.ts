/**
 * @module byte-size — memory sizes as registries write them: a number of bytes, or "64MB".
 */
import { TaskrtError } from "./errors.ts";

const UNIT_BYTES: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };
const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)$/;

/** Bytes for `"64MB"`, `"1.5GB"` or a number (taken as bytes). */
export function parseByteSize(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw invalid(value);
    return Math.floor(value);
  }
  const match = SIZE.exec(value.trim());
  if (!match) throw invalid(value);
  return Math.floor(Number(match[1]) * UNIT_BYTES[match[2]]);
}

function invalid(value: unknown): TaskrtError {
  return new TaskrtError("E_SIZE", `invalid size ${JSON.stringify(value)}: expected a number of bytes or a size such as "64MB" (B, KB, MB, GB)`);
}
