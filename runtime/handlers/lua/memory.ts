/**
 * @module handlers/lua/memory — Lua states whose memory is capped: each state gets an allocator
 * that counts its bytes and refuses an allocation that would pass the state's limit, so Lua
 * raises its own "not enough memory" error in the code that asked, and nothing else suffers.
 *
 * One allocator function serves every state of the wasm instance; Lua hands it the state's
 * slot number (the `ud` pointer), which indexes the byte counts kept here.
 */
import type { LuaWasm } from "./wasm.ts";

const used: number[] = [];
const limits: number[] = [];
const freeSlots: number[] = [];
let allocator: number | undefined;

function allocatorOf(wasm: LuaWasm): number {
  const api = wasm.api;
  allocator ??= api.addFunction((slot: number, pointer: number, oldSize: number, newSize: number) => {
    // size_t is 32 bits here; sizes past 2 GB arrive negative.
    const requested = newSize >>> 0;
    const previous = pointer ? oldSize >>> 0 : 0;
    if (requested === 0) {
      if (pointer) api._free(pointer);
      used[slot] -= previous;
      return 0;
    }
    if (requested > previous && used[slot] + requested - previous > limits[slot]) return 0;
    const moved = api._realloc(pointer, requested);
    if (moved) used[slot] += requested - previous;
    return moved;
  }, "iiiii");
  return allocator;
}

export interface LimitedState {
  L: number;
  slot: number;
}

/** A new `lua_State` that may hold at most `limitBytes`; null when even that fails. */
export function newLimitedState(wasm: LuaWasm, limitBytes: number): LimitedState | null {
  const slot = freeSlots.pop() ?? used.length;
  used[slot] = 0;
  limits[slot] = limitBytes;
  const L = wasm.api._lua_newstate(allocatorOf(wasm), slot);
  if (!L) {
    freeSlots.push(slot);
    return null;
  }
  return { L, slot };
}

/** After `lua_close`: the slot may serve another state. */
export function releaseSlot(slot: number): void {
  freeSlots.push(slot);
}
