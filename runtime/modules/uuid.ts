/**
 * @module modules/uuid — random (v4) and time-ordered (v7) UUIDs for handlers.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { useModule } from "./context.ts";

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** RFC 9562 v7: 48-bit Unix milliseconds, then random bits, so ids sort by creation time. */
export function uuidV7(now: number = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = 0x70 | (bytes[6] & 0x0f);
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const uuid = {
  v4(): string {
    useModule("uuid");
    return randomUUID();
  },
  v7(): string {
    useModule("uuid");
    return uuidV7();
  },
  validate(value: unknown): boolean {
    useModule("uuid");
    return typeof value === "string" && UUID_PATTERN.test(value);
  },
};
