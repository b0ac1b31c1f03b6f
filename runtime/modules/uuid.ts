/**
 * @module modules/uuid — random (v4) and time-ordered (v7) UUIDs for handlers.
 */
import { randomFillSync, randomUUID } from "node:crypto";
import { useModule } from "./context.ts";

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Random bytes a v7 id takes: the 62 bits of rand_b, rounded up (the variant takes the other 2). */
const RANDOM_BYTES_PER_ID = 8;
/**
 * Random bytes for many ids, filled by one call into the CSPRNG: one call per id cost more than
 * the rest of making it (as node's randomUUID pools too).
 */
const randomPool = Buffer.allocUnsafe(RANDOM_BYTES_PER_ID * 512);
let poolOffset = randomPool.length;
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
/** The version nibble `7` followed by the 12-bit counter, for every counter value. */
const VERSION_AND_COUNTER = Array.from({ length: 4096 }, (_, counter) => `7${counter.toString(16).padStart(3, "0")}`);
const MAX_TIMESTAMP = 2 ** 48 - 1;
const MAX_COUNTER = 0xfff;
/** A fresh millisecond seeds the counter below half its range, leaving at least 2,048 steps (RFC 9562 §6.2 rollover guard). */
const COUNTER_SEED_MASK = 0x7ff;

/** Where the next id's random bytes start in the pool, refilling it when it runs out. */
function takeRandom(byteCount: number): number {
  if (poolOffset + byteCount > randomPool.length) {
    randomFillSync(randomPool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += byteCount;
  return at;
}

function checkTimestamp(now: number): void {
  if (!Number.isInteger(now) || now < 0 || now > MAX_TIMESTAMP) {
    throw new RangeError(`a UUIDv7 timestamp is a whole number of milliseconds from 0 to ${MAX_TIMESTAMP}, got ${now}`);
  }
}

/**
 * A v7 generator whose ids, as strings, strictly increase for as long as it lives (RFC 9562 §6.2,
 * method 1): the 48-bit Unix milliseconds, then a 12-bit counter in rand_a, seeded at random on each
 * new millisecond and stepped within it, then 62 random bits. A clock that goes back keeps the last
 * millisecond; a counter that runs out moves on to the next millisecond before the clock does.
 */
export function createUuidV7Generator(clock: () => number = Date.now): () => string {
  let lastMs = -1;
  let counter = 0;
  /** `xxxxxxxx-xxxx-` for lastMs: formatted once per millisecond, not once per id. */
  let timePrefix = "";

  const startMillisecond = (ms: number): void => {
    checkTimestamp(ms); // lastMs + 1 may pass the end of the 48 bits
    lastMs = ms;
    const at = takeRandom(2);
    counter = ((randomPool[at] << 8) | randomPool[at + 1]) & COUNTER_SEED_MASK;
    const time = ms.toString(16).padStart(12, "0");
    timePrefix = `${time.slice(0, 8)}-${time.slice(8)}-`;
  };

  return function uuidV7(): string {
    const now = clock();
    checkTimestamp(now);
    if (now > lastMs) startMillisecond(now);
    else if (counter < MAX_COUNTER) counter++;
    else startMillisecond(lastMs + 1);
    const at = takeRandom(RANDOM_BYTES_PER_ID);
    const bytes = randomPool;
    return (
      `${timePrefix}${VERSION_AND_COUNTER[counter]}-` +
      `${HEX[0x80 | (bytes[at] & 0x3f)]}${HEX[bytes[at + 1]]}-` +
      `${HEX[bytes[at + 2]]}${HEX[bytes[at + 3]]}${HEX[bytes[at + 4]]}${HEX[bytes[at + 5]]}${HEX[bytes[at + 6]]}${HEX[bytes[at + 7]]}`
    );
  };
}

/** The process's generator: one sequence, so every id `uuid.v7()` returns sorts after the ones before. */
const nextUuidV7 = createUuidV7Generator();

export const uuid = {
  v4(): string {
    useModule("uuid");
    return randomUUID();
  },
  v7(): string {
    useModule("uuid");
    return nextUuidV7();
  },
  validate(value: unknown): boolean {
    useModule("uuid");
    return typeof value === "string" && UUID_PATTERN.test(value);
  },
};
