import { test } from "node:test";
import assert from "node:assert/strict";
import { setImmediate as nextTurn } from "node:timers/promises";
import { AsyncSlot } from "./async-slots.ts";

test("a slot's value follows its async chain across awaits and timers, and is gone outside run", async () => {
  const slot = new AsyncSlot<string>();
  assert.equal(slot.get(), undefined);
  const seen = await slot.run("outer", async () => {
    await nextTurn();
    const inTimer = await new Promise<string | undefined>((resolve) => setTimeout(() => resolve(slot.get()), 0));
    return [slot.get(), inTimer];
  });
  assert.deepEqual(seen, ["outer", "outer"]);
  assert.equal(slot.get(), undefined);
});

test("two slots hold their values side by side; a nested run replaces only its own slot's value", async () => {
  const context = new AsyncSlot<string>();
  const frame = new AsyncSlot<number>();
  await context.run("handler", async () => {
    await frame.run(1, async () => {
      await nextTurn();
      assert.deepEqual([context.get(), frame.get()], ["handler", 1]);
      await frame.run(2, async () => {
        await nextTurn();
        assert.deepEqual([context.get(), frame.get()], ["handler", 2]);
        await context.run("nested call", async () => {
          assert.deepEqual([context.get(), frame.get()], ["nested call", 2]);
        });
        assert.deepEqual([context.get(), frame.get()], ["handler", 2]);
      });
      assert.equal(frame.get(), 1);
    });
    assert.deepEqual([context.get(), frame.get()], ["handler", undefined]);
  });
});

test("exit empties one slot for the function it runs and leaves the others as they are", async () => {
  const context = new AsyncSlot<string>();
  const frame = new AsyncSlot<number>();
  await frame.run(7, () =>
    context.run("handler", async () => {
      const inside = await frame.exit(async () => {
        await nextTurn();
        return [context.get(), frame.get()];
      });
      assert.deepEqual(inside, ["handler", undefined]);
      assert.equal(frame.get(), 7, "the slot holds its value again once exit's function returned");
      // A slot with no value: exit changes nothing.
      const unset = new AsyncSlot<string>();
      assert.deepEqual(unset.exit(() => [context.get(), frame.get(), unset.get()]), ["handler", 7, undefined]);
    }),
  );
});

test("concurrent chains never see each other's values", async () => {
  const slot = new AsyncSlot<number>();
  const seen = await Promise.all(
    [1, 2, 3].map((value) =>
      slot.run(value, async () => {
        const values: (number | undefined)[] = [];
        for (let turn = 0; turn < 3; turn++) {
          await nextTurn();
          values.push(slot.get());
        }
        return values;
      }),
    ),
  );
  assert.deepEqual(seen, [
    [1, 1, 1],
    [2, 2, 2],
    [3, 3, 3],
  ]);
});
