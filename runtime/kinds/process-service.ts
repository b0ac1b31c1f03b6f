/**
 * @module kinds/process-service — `process.service`: runs a process entry's method on a host.
 *
 * States: STARTING → RUNNING → EXITED (the method returned: done, no restart, whatever it
 * returned) or → FAILED (it threw / returned an error) → back to RUNNING after the restart
 * backoff, until `lifecycle.restart.max_attempts` is spent (then FAILED for good). A run that
 * lasted `stable_threshold` starts the count over. `completed()` resolves on EXITED, so entries
 * that require this service start only after, say, a migration has finished.
 */
import { setTimeout as delay } from "node:timers/promises";
import { backoffDelay } from "../backoff.ts";
import { formatDuration } from "../duration.ts";
import { TaskrtError } from "../errors.ts";
import type { CallableComponent } from "../handlers/handler.ts";
import { readLifecycle } from "../lifecycle.ts";
import { NO_INSTRUMENTS } from "../metrics/instruments.ts";
import { resolveId } from "../registry/entry.ts";
import type { Component } from "../contracts/component.ts";
import { defineKind } from "../contracts/kind-definition.ts";

export const PROCESS_STATE = { STARTING: "STARTING", RUNNING: "RUNNING", EXITED: "EXITED", FAILED: "FAILED", STOPPED: "STOPPED" } as const;
export type ProcessState = (typeof PROCESS_STATE)[keyof typeof PROCESS_STATE];

export default defineKind({
  kind: "process.service",
  summary: "Runs a process on a host: a normal return ends it, a failure restarts it with backoff.",
  references: [
    { path: ["process"], kinds: ["process.*"] },
    { path: ["host"], kinds: ["process.host"] },
  ],
  service: true,
  create(entry, context): Component & { state(): ProcessState } {
    const processId = resolveId(String(entry.data.process), entry.namespace);
    const hostId = resolveId(String(entry.data.host), entry.namespace);
    const input = (entry.data.input as unknown[] | undefined) ?? [];
    const lifecycle = readLifecycle(entry);
    const logger = context.logger.forEntry(entry.id);
    const instruments = context.instruments ?? NO_INSTRUMENTS;
    const abort = new AbortController();
    let state: ProcessState = PROCESS_STATE.STARTING;
    let running: Promise<void> | undefined;
    let settle!: { resolve: () => void; reject: (error: Error) => void };
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    done.catch(() => {}); // observed through completed(); never an unhandled rejection

    async function run(): Promise<void> {
      const callable = context.component<Component & CallableComponent>(processId).callable();
      let failures = 0;
      while (!abort.signal.aborted) {
        state = PROCESS_STATE.RUNNING;
        const startedAt = Date.now();
        const result = await callable.call(input, { signal: abort.signal, process: { host: hostId, stopTimeoutMs: lifecycle.stopTimeoutMs } });
        if (abort.signal.aborted) break;
        if (!result.error) {
          state = PROCESS_STATE.EXITED;
          logger.info("process exited", { process: processId });
          settle.resolve();
          return;
        }
        state = PROCESS_STATE.FAILED;
        failures = Date.now() - startedAt >= lifecycle.stableThresholdMs ? 1 : failures + 1;
        const { maxAttempts } = lifecycle.restart;
        if (maxAttempts > 0 && failures >= maxAttempts) {
          logger.error("process failed, no attempts left", { process: processId, attempts: failures, error: result.error.message });
          settle.reject(
            new TaskrtError("E_PROCESS_FAILED", `${entry.id}: ${processId} failed ${failures} times: ${result.error.message}`, { entryId: entry.id, cause: result.error }),
          );
          return;
        }
        const wait = backoffDelay(lifecycle.restart, failures);
        logger.warn("process failed, restarting", { process: processId, attempt: failures, retry_in: formatDuration(wait), error: result.error.message });
        try {
          await delay(wait, undefined, { signal: abort.signal });
        } catch {
          break;
        }
        instruments.processRestarted(entry.id);
      }
      state = PROCESS_STATE.STOPPED;
    }

    return {
      async start() {
        running = run().catch((error: unknown) => {
          state = PROCESS_STATE.FAILED;
          settle.reject(error instanceof Error ? error : new Error(String(error)));
        });
      },
      completed: () => done,
      async stop() {
        abort.abort();
        // No effect once it has exited: a promise settles once.
        settle.reject(new TaskrtError("E_STOPPED", `${entry.id} was stopped before it finished`, { entryId: entry.id }));
        await running;
      },
      state: () => state,
      describe: () => `${processId} ${state.toLowerCase()}`,
    };
  },
});
