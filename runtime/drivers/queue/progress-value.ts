/**
 * @module drivers/queue/progress-value — what a handler may report as progress (a finite number,
 * or a JSON object or array up to 16 KiB), checked the same way by every driver.
 */
import { TaskrtError, errorMessage } from "../../errors.ts";

export const MAX_PROGRESS_BYTES = 16 * 1024;

/** The value's JSON text, or the refusal saying what progress may be. */
export function progressJson(value: unknown): string {
  const refuse = (found: string): never => {
    throw new TaskrtError("E_INVALID_PROGRESS", `progress must be a finite number or a JSON object of at most ${MAX_PROGRESS_BYTES} bytes, found ${found}`, {
      hint: "report a percentage (progress(40)) or an object (progress({done: 4, total: 10}))",
    });
  };
  if (typeof value === "number") return Number.isFinite(value) ? JSON.stringify(value) : refuse(String(value));
  if (typeof value !== "object" || value === null) return refuse(value === null ? "null" : typeof value);
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    return refuse(`a value without a JSON form (${errorMessage(error)})`);
  }
  const bytes = Buffer.byteLength(text);
  return bytes > MAX_PROGRESS_BYTES ? refuse(`${bytes} bytes`) : text;
}
