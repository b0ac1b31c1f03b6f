/**
 * @module modules/funcs — calling other function entries from a handler, as Wippy's `funcs`:
 * `call` waits for the result; `async` starts the call and hands back a Future; `new()` is an
 * Executor whose options (a timeout) apply to the calls made through it.
 */
import { TaskrtError } from "../errors.ts";
import type { CallResult } from "../handlers/handler.ts";
import { useModule } from "./context.ts";

export interface ExecutorOptions {
  /** Milliseconds a call made through the executor may take before it is cancelled. */
  timeout?: number;
}

/** The state of a call started with `async`: pending until it returns, fails or is cancelled. */
export class Future {
  private outcome: CallResult | undefined;
  private canceled = false;
  /** Settles with the call's outcome (never rejects). */
  readonly settled: Promise<CallResult>;

  constructor(
    running: Promise<CallResult>,
    private readonly abort: AbortController,
  ) {
    this.settled = running.then((outcome) => (this.outcome = outcome));
  }

  isComplete(): boolean {
    return this.outcome !== undefined;
  }

  isCanceled(): boolean {
    return this.canceled;
  }

  /** The outcome once complete; undefined while the call runs. */
  result(): CallResult | undefined {
    return this.outcome;
  }

  /** Waits for the call: its value, or its error thrown. */
  async wait(): Promise<unknown> {
    const outcome = await this.settled;
    if (outcome.error) throw outcome.error;
    return outcome.value;
  }

  /** Cancels the call if it still runs; false once it has finished. */
  cancel(): boolean {
    if (this.outcome) return false;
    this.canceled = true;
    this.abort.abort(new TaskrtError("E_CANCELED", "the call was cancelled by its caller"));
    return true;
  }
}

/** Wippy's target check: `namespace:name`, both parts present. */
function checkTarget(target: unknown): string {
  if (typeof target !== "string" || target === "") throw new TaskrtError("E_FUNCS_INVALID", "funcs: target is empty: give a function id such as app:get_user");
  const colon = target.indexOf(":");
  if (colon <= 0) throw new TaskrtError("E_FUNCS_INVALID", `funcs: target '${target}' has no namespace: write it as namespace:name`);
  if (colon === target.length - 1) throw new TaskrtError("E_FUNCS_INVALID", `funcs: target '${target}' has no name: write it as namespace:name`);
  return target;
}

export class Executor {
  constructor(
    private readonly options: Readonly<ExecutorOptions> = {},
    /** Kept for Wippy's `with_context`; taskrt has no `ctx` module that would read it. */
    readonly contextValues: Readonly<Record<string, unknown>> = {},
  ) {}

  withOptions(options: ExecutorOptions): Executor {
    if (options.timeout !== undefined && !(typeof options.timeout === "number" && options.timeout > 0)) {
      throw new TaskrtError("E_FUNCS_INVALID", `funcs: options.timeout must be a positive number of milliseconds, got ${JSON.stringify(options.timeout)}`);
    }
    return new Executor({ ...this.options, ...options }, this.contextValues);
  }

  withContext(values: Record<string, unknown>): Executor {
    return new Executor(this.options, { ...this.contextValues, ...values });
  }

  /** Calls `target` and waits: its value, or its error thrown. */
  async call(target: string, ...args: unknown[]): Promise<unknown> {
    return this.async(target, ...args).wait();
  }

  /** Starts calling `target`; a bad target or an unknown entry throws now, a failing call fails the Future. */
  async(target: string, ...args: unknown[]): Future {
    const context = useModule("funcs");
    const id = checkTarget(target);
    const lookup = context.services.callable;
    if (!lookup) throw new TaskrtError("E_FUNCS_UNAVAILABLE", "funcs: this runtime has no function entries to call");
    const callable = lookup(id);
    const abort = new AbortController();
    const signals = [abort.signal];
    if (context.signal) signals.push(context.signal);
    const { timeout } = this.options;
    let timer: NodeJS.Timeout | undefined;
    if (timeout !== undefined) {
      timer = setTimeout(() => abort.abort(new TaskrtError("E_FUNCS_TIMEOUT", `funcs: ${id} did not answer within ${timeout}ms`)), timeout);
    }
    const signal = signals.length === 1 ? abort.signal : AbortSignal.any(signals);
    const running = callable.call(args, { signal }).then((outcome) => {
      if (timer) clearTimeout(timer);
      // A call cut short reports the reason it was cut (the timeout, the cancel), not a bare "cancelled".
      if (outcome.error && abort.signal.aborted && abort.signal.reason instanceof Error) return { value: undefined, error: abort.signal.reason };
      return outcome;
    });
    return new Future(running, abort);
  }
}

export const funcs = {
  new(): Executor {
    useModule("funcs");
    return new Executor();
  },
  call(target: string, ...args: unknown[]): Promise<unknown> {
    return new Executor().call(target, ...args);
  },
  async(target: string, ...args: unknown[]): Future {
    return new Executor().async(target, ...args);
  },
};
