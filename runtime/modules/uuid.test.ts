import { test } from "node:test";
import assert from "node:assert/strict";
import { createUuidV7Generator, uuid } from "./uuid.ts";
import { runInContext, type CallContext } from "./context.ts";
import { createLogger } from "../logger.ts";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MAX_TIMESTAMP = 2 ** 48 - 1;

/** A handler that declared `uuid`; it reaches no other entry. */
const handlerContext: CallContext = {
  entryId: "app:make_ids",
  modules: new Set(["uuid"]),
  services: {
    database: (id) => assert.fail(`the uuid module looked up database ${id}`),
    queue: (id) => assert.fail(`the uuid module looked up queue ${id}`),
  },
  logger: createLogger({ sink: { write() {} } }),
};

/** A clock the test sets: returns `now` until told otherwise. */
function manualClock(start: number) {
  const clock = { now: start, read: () => clock.now };
  return clock;
}

const millisecondsOf = (id: string) => parseInt(id.slice(0, 8) + id.slice(9, 13), 16);

function assertStrictlyIncreasing(ids: readonly string[]): void {
  for (let index = 1; index < ids.length; index++) {
    assert.ok(ids[index] > ids[index - 1], `id ${index} ${ids[index]} does not sort after ${ids[index - 1]}`);
  }
}

test("a v7 id puts the 48-bit millisecond timestamp first, then the version and variant", () => {
  for (const [now, prefix] of [[0x0123456789ab, "01234567-89ab"], [0, "00000000-0000"], [MAX_TIMESTAMP, "ffffffff-ffff"]] as const) {
    const id = createUuidV7Generator(() => now)();
    assert.match(id, V7);
    assert.equal(id.slice(0, 13), prefix);
  }
});

test("10,000 ids a handler makes in a tight loop are valid v7 ids, each sorting after the one before", () => {
  const ids = runInContext(handlerContext, () => Array.from({ length: 10_000 }, () => uuid.v7()));
  for (const id of ids) assert.match(id, V7);
  assertStrictlyIncreasing(ids);
});

test("ids made in a later millisecond sort after every id of the earlier one", () => {
  const clock = manualClock(1_700_000_000_000);
  const next = createUuidV7Generator(clock.read);
  const earlier = Array.from({ length: 1_000 }, next);
  clock.now += 1;
  const later = next();
  assert.equal(millisecondsOf(later), 1_700_000_000_001);
  assert.ok(earlier.every((id) => millisecondsOf(id) === 1_700_000_000_000 && id < later));
});

test("a clock that goes back keeps the last millisecond, and ids keep increasing", () => {
  const clock = manualClock(1_700_000_000_500);
  const next = createUuidV7Generator(clock.read);
  const ids = [next(), next()];
  for (const backTo of [1_700_000_000_499, 1_700_000_000_000, 1_600_000_000_000]) {
    clock.now = backTo;
    ids.push(next(), next());
  }
  assert.deepEqual(new Set(ids.map(millisecondsOf)), new Set([1_700_000_000_500]));
  clock.now = 1_700_000_000_501;
  ids.push(next());
  assert.equal(millisecondsOf(ids.at(-1)!), 1_700_000_000_501);
  assertStrictlyIncreasing(ids);
});

test("more ids in one millisecond than the counter holds move on to the next millisecond, still in order", () => {
  const frozen = 1_700_000_000_000;
  const next = createUuidV7Generator(() => frozen);
  const ids = Array.from({ length: 5_000 }, next);
  assertStrictlyIncreasing(ids);
  for (const id of ids) assert.match(id, V7);
  // The counter starts below 2,048 of its 4,096 values, so 5,000 ids span at most three milliseconds.
  assert.equal(millisecondsOf(ids[0]), frozen);
  assert.ok(millisecondsOf(ids.at(-1)!) > frozen && millisecondsOf(ids.at(-1)!) <= frozen + 2, ids.at(-1));
});

test("v7 ids stay distinct across many refills of the random pool", () => {
  const clock = manualClock(1_700_000_000_000);
  const next = createUuidV7Generator(clock.read);
  const ids = Array.from({ length: 20_000 }, (_, index) => {
    clock.now = 1_700_000_000_000 + Math.floor(index / 100);
    return next();
  });
  assert.equal(new Set(ids).size, ids.length);
  // The 62 bits after the counter are random, not a second counter.
  assert.ok(new Set(ids.map((id) => id.slice(19))).size > 19_990);
  assertStrictlyIncreasing(ids);
});

test("a clock reading that is not a 48-bit whole millisecond count fails the call with a RangeError", () => {
  const message = (value: number) => `a UUIDv7 timestamp is a whole number of milliseconds from 0 to 281474976710655, got ${value}`;
  for (const bad of [-1, 2 ** 48, 1.5, Number.NaN]) {
    assert.throws(() => createUuidV7Generator(() => bad)(), { name: "RangeError", message: message(bad) });
  }
});

test("ids at the last representable millisecond fail once the counter runs out, rather than wrap", () => {
  const next = createUuidV7Generator(() => MAX_TIMESTAMP);
  const ids: string[] = [];
  assert.throws(
    () => {
      for (let count = 0; count <= 4_096; count++) ids.push(next());
    },
    { name: "RangeError", message: `a UUIDv7 timestamp is a whole number of milliseconds from 0 to 281474976710655, got ${2 ** 48}` },
  );
  assert.ok(ids.length > 2_048);
  assertStrictlyIncreasing(ids);
});
