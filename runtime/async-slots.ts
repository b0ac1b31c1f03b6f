/**
 * @module async-slots — values that follow an async call chain (the call context of the running
 * handler, the transaction each database has open in it), all carried by one AsyncLocalStorage.
 *
 * Why one: on Node 20 every AsyncLocalStorage in use copies its store onto every promise, timer
 * and socket created anywhere in the process, so each instance taxes every request. A slot works
 * as an AsyncLocalStorage of its own would (`get`, `run`, `exit`), but all slots share one store:
 * a short chain holding at most one value per slot, newest first.
 */
import { AsyncLocalStorage } from "node:async_hooks";

interface Binding {
  readonly slot: AsyncSlot<unknown>;
  readonly value: unknown;
  readonly next: Binding | undefined;
}

// One storage per process even if the package is loaded twice (a handler importing "taskrt"
// through another path): a slot set by one copy must be seen by the other.
const STORAGE_KEY = Symbol.for("taskrt.asyncSlots");
const globalStore = globalThis as unknown as Record<symbol, AsyncLocalStorage<Binding> | undefined>;
const storage: AsyncLocalStorage<Binding> = (globalStore[STORAGE_KEY] ??= new AsyncLocalStorage<Binding>());

export class AsyncSlot<T> {
  /** The value `run` gave this slot in the current async context, if any. */
  get(): T | undefined {
    for (let binding = storage.getStore(); binding !== undefined; binding = binding.next) {
      if (binding.slot === this) return binding.value as T;
    }
    return undefined;
  }

  /** Runs `fn` with this slot holding `value` (every other slot keeps its value). */
  run<R>(value: T, fn: () => R): R {
    const chain = storage.getStore();
    return storage.run({ slot: this as AsyncSlot<unknown>, value, next: this.#without(chain) }, fn);
  }

  /** Runs `fn` with this slot empty (every other slot keeps its value). */
  exit<R>(fn: () => R): R {
    const chain = storage.getStore();
    const rest = this.#without(chain);
    if (rest === chain) return fn();
    return rest === undefined ? storage.exit(fn) : storage.run(rest, fn);
  }

  /** `chain` without this slot's binding: the chain itself when it has none (the common case). */
  #without(chain: Binding | undefined): Binding | undefined {
    let found = false;
    for (let binding = chain; binding !== undefined; binding = binding.next) {
      if (binding.slot === this) {
        found = true;
        break;
      }
    }
    if (!found) return chain;
    return copyWithout(chain, this as AsyncSlot<unknown>);
  }
}

function copyWithout(chain: Binding | undefined, slot: AsyncSlot<unknown>): Binding | undefined {
  if (chain === undefined) return undefined;
  if (chain.slot === slot) return chain.next; // at most one binding per slot
  return { slot: chain.slot, value: chain.value, next: copyWithout(chain.next, slot) };
}
