/**
 * @module modules/uuid — random (v4) and time-ordered (v7) UUIDs for handlers.
 */
import { randomFillSync, randomUUID } from "node:crypto";
import { useModule } from "./context.ts";

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Random bytes a v7 id takes: 16 less the 6 of the timestamp. */
const RANDOM_BYTES_PER_ID = 10;
/**
 * Random bytes for many ids, filled by one call into the CSPRNG: one call per id cost more than
 * the rest of making it (as node's randomUUID pools too).
 */
const randomPool = Buffer.allocUnsafe(RANDOM_BYTES_PER_ID * 512);
let poolOffset = randomPool.length;
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
const MAX_TIMESTAMP = 2 ** 48 - 1;

/** RFC 9562 v7: 48-bit Unix milliseconds, then random bits, so ids sort by creation time. */
export function uuidV7(now: number = Date.now()): string {
  if (!Number.isInteger(now) || now < 0 || now > MAX_TIMESTAMP) {
    throw new RangeError(`a UUIDv7 timestamp is a whole number of milliseconds from 0 to ${MAX_TIMESTAMP}, got ${now}`);
  }
  if (poolOffset + RANDOM_BYTES_PER_ID > randomPool.length) {
    randomFillSync(randomPool);
    poolOffset = 0;
  }
  const bytes = randomPool;
  const at = poolOffset;
  poolOffset += RANDOM_BYTES_PER_ID;
  const time = now.toString(16).padStart(12, "0");
  return (
    `${time.slice(0, 8)}-${time.slice(8)}-` +
    `${HEX[0x70 | (bytes[at] & 0x0f)]}${HEX[bytes[at + 1]]}-` +
    `${HEX[0x80 | (bytes[at + 2] & 0x3f)]}${HEX[bytes[at + 3]]}-` +
    `${HEX[bytes[at + 4]]}${HEX[bytes[at + 5]]}${HEX[bytes[at + 6]]}${HEX[bytes[at + 7]]}${HEX[bytes[at + 8]]}${HEX[bytes[at + 9]]}`
  );
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
