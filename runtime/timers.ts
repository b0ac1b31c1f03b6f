/**
 * @module timers — waits of any length. A Node.js timer holds at most MAX_TIMER_MS (about 24.8
 * days); asked for longer, it fires after 1 ms. Waits that come from users at run time (a publish
 * `delay`, `time.sleep`) go through here and re-arm in steps, so they never fire early.
 */
import { MAX_TIMER_MS } from "./duration.ts";

export interface LongTimer {
  clear(): void;
}

/** Calls `callback` once `ms` have passed, however long that is. */
export function setLongTimeout(callback: () => void, ms: number): LongTimer {
  let timer: NodeJS.Timeout;
  const arm = (remaining: number) => {
    if (remaining <= MAX_TIMER_MS) {
      timer = setTimeout(callback, remaining);
    } else {
      timer = setTimeout(() => arm(remaining - MAX_TIMER_MS), MAX_TIMER_MS);
    }
  };
  arm(ms);
  return { clear: () => clearTimeout(timer) };
}

/** Resolves after `ms`; rejects with the signal's reason (an AbortError by default) when it aborts first. */
export function sleepLong(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      timer.clear();
      reject(abortReason(signal!));
    };
    const timer = setLongTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}
