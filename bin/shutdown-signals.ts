/**
 * @module bin/shutdown-signals — SIGINT/SIGTERM for `taskrt run`, handled from the first moment of
 * start-up: a signal during start-up aborts it (what started is stopped), one after it stops the
 * running services gracefully, and a second signal exits at once.
 *
 * States: STARTING (signal → abort `startup`) → RUNNING once `stopOnSignal()` hands over what to
 * stop (signal → stop it, then resolve with the exit code) → STOPPING (signal → exit 130 now).
 */
import type { CliIO } from "./output.ts";

const SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM"];

interface Stoppable {
  stop(): Promise<void>;
}

export class ShutdownSignals {
  readonly #io: CliIO;
  readonly #startup = new AbortController();
  #received: NodeJS.Signals | undefined;
  #stopping = false;
  #running: { target: Stoppable; resolve: (code: number) => void } | undefined;
  readonly #onSignal = (signal: NodeJS.Signals) => this.#handle(signal);

  constructor(io: CliIO) {
    this.#io = io;
    for (const signal of SIGNALS) process.on(signal, this.#onSignal);
  }

  /** Aborted by the first signal that arrives before start-up has finished. */
  get startup(): AbortSignal {
    return this.#startup.signal;
  }

  /**
   * From now on a signal stops `target`; resolves with the exit code once it has stopped (0 clean,
   * 1 with errors). If a signal came while it was starting, it is stopped right away.
   */
  stopOnSignal(target: Stoppable): Promise<number> {
    return new Promise((resolve) => {
      this.#running = { target, resolve };
      if (this.#received) this.#stop(this.#received);
    });
  }

  /** Gives the signals back to Node's defaults. */
  dispose(): void {
    for (const signal of SIGNALS) process.off(signal, this.#onSignal);
  }

  #handle(signal: NodeJS.Signals): void {
    if (this.#stopping || (this.#received && !this.#running)) {
      this.#io.stderr(`received ${signal} again: exiting now, without waiting\n`);
      process.exit(130);
    }
    this.#received = signal;
    if (this.#running) return this.#stop(signal);
    this.#io.stderr(`received ${signal} during start-up: stopping what has started; ${signal} again forces exit\n`);
    this.#startup.abort();
  }

  #stop(signal: NodeJS.Signals): void {
    if (this.#stopping || !this.#running) return;
    this.#stopping = true;
    const { target, resolve } = this.#running;
    if (!this.#startup.signal.aborted) {
      this.#io.stderr(`received ${signal}: stopping — no new requests or messages; in-flight work gets its stop_timeout; ${signal} again forces exit\n`);
    }
    target.stop().then(
      () => {
        this.#io.stderr("stopped cleanly\n");
        this.dispose();
        resolve(0);
      },
      (error: unknown) => {
        this.#io.stderr(`stopped with errors: ${error instanceof Error ? error.message : String(error)}\n`);
        this.dispose();
        resolve(1);
      },
    );
  }
}
