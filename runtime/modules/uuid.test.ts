import { test } from "node:test";
import assert from "node:assert/strict";
import { uuidV7 } from "./uuid.ts";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("uuidV7 puts the 48-bit millisecond timestamp first, then the version and variant", () => {
  const id = uuidV7(0x0123456789ab);
  assert.match(id, V7);
  assert.equal(id.slice(0, 13), "01234567-89ab");
  assert.equal(uuidV7(0).slice(0, 13), "00000000-0000");
  assert.equal(uuidV7(2 ** 48 - 1).slice(0, 13), "ffffffff-ffff");
});

test("uuidV7 ids are distinct across many refills of the random pool, and sort by their timestamp", () => {
  const ids = Array.from({ length: 20_000 }, (_, index) => uuidV7(1_700_000_000_000 + Math.floor(index / 100)));
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, V7);
  assert.deepEqual([...ids].sort((a, b) => a.slice(0, 13).localeCompare(b.slice(0, 13))), ids);
});

test("uuidV7 refuses a timestamp that does not fit 48 bits or is not whole", () => {
  const message = (value: number) => `a UUIDv7 timestamp is a whole number of milliseconds from 0 to 281474976710655, got ${value}`;
  assert.throws(() => uuidV7(-1), { name: "RangeError", message: message(-1) });
  assert.throws(() => uuidV7(2 ** 48), { name: "RangeError", message: message(2 ** 48) });
  assert.throws(() => uuidV7(1.5), { name: "RangeError", message: message(1.5) });
});
