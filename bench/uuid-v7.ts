/**
 * @module bench/uuid-v7 — what `uuid.v7()` costs on the intake path, and whether ids made back to
 * back come out in order: nanoseconds per id (median over rounds, after a warm-up) and how many
 * neighbours in one tight run of ids sort before the id made just before them.
 *
 * Run: `node --import tsx bench/uuid-v7.ts [--ids=1000000] [--rounds=7] [--neighbours=2000]`.
 */
import { parseArgs } from "node:util";
import { uuid } from "../runtime/modules/uuid.ts";
import { runInContext, type CallContext } from "../runtime/modules/context.ts";

const { values } = parseArgs({ options: { ids: { type: "string", default: "1000000" }, rounds: { type: "string", default: "7" }, neighbours: { type: "string", default: "2000" } } });
const ids = Number(values.ids);
const rounds = Number(values.rounds);
const neighbours = Number(values.neighbours);

/** Handlers call `uuid.v7()` inside a call context that declares the module; so does the bench. */
function inHandler<T>(work: () => T): T {
  return runInContext({ entryId: "bench:uuid", modules: new Set(["uuid"]) } as unknown as CallContext, work);
}

function nsPerId(): number {
  let sink = 0;
  const started = process.hrtime.bigint();
  for (let index = 0; index < ids; index++) sink += uuid.v7().length;
  const elapsed = Number(process.hrtime.bigint() - started);
  if (sink !== ids * 36) throw new Error("an id was not 36 characters");
  return elapsed / ids;
}

inHandler(() => {
  nsPerId();
  const timings = Array.from({ length: rounds }, nsPerId).sort((a, b) => a - b);
  const run = Array.from({ length: neighbours }, () => uuid.v7());
  let outOfOrder = 0;
  for (let index = 1; index < run.length; index++) if (run[index] <= run[index - 1]) outOfOrder++;
  console.log(`uuid.v7(): ${timings[Math.floor(rounds / 2)].toFixed(1)} ns/id (median of ${rounds} rounds of ${ids}; min ${timings[0].toFixed(1)}, max ${timings[rounds - 1].toFixed(1)})`);
  console.log(`out of order: ${outOfOrder} of ${neighbours - 1} neighbours`);
});
