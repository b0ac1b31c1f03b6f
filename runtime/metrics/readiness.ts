/**
 * @module metrics/readiness — whether each required entry is ready to serve, from the supervisor's
 * states plus what only asking tells: a one-shot service (a migration) is ready once its work has
 * finished, and a database once it answers `SELECT 1` within the probe timeout.
 */
import { errorMessage } from "../errors.ts";
import type { Component } from "../contracts/component.ts";
import type { RuntimeServices } from "../contracts/runtime-services.ts";
import { SERVICE_STATE, type RuntimeView } from "../contracts/build-context.ts";
import type { Logger } from "../logger.ts";
import type { Registry } from "../registry/entry.ts";

/** What readiness reports per entry; only RUNNING and COMPLETED count as ready. */
export const ENTRY_STATUS = {
  RUNNING: "running",
  /** A one-shot service whose work finished successfully. */
  COMPLETED: "completed",
  /** A one-shot service still doing its work (or restarting it after a failure). */
  IN_PROGRESS: "in progress",
  /** A running database that did not answer `SELECT 1` in time. */
  UNREACHABLE: "unreachable",
  NOT_STARTED: "not started",
  STARTING: "starting",
  STOPPING: "stopping",
  STOPPED: "stopped",
  FAILED: "failed",
} as const;
export type EntryStatus = (typeof ENTRY_STATUS)[keyof typeof ENTRY_STATUS];

export interface ReadinessReport {
  ready: boolean;
  /** Entry id → status, in the order the entries were required. */
  entries: Record<string, EntryStatus>;
}

export interface ReadinessSources {
  registry: Registry;
  runtime: RuntimeView;
  services: RuntimeServices;
  component(id: string): Component;
  logger: Logger;
  probeTimeoutMs: number;
}

export class ReadinessCheck {
  readonly #sources: ReadinessSources;
  readonly #requires: readonly string[];
  /** Databases that failed their last probe: the warning is logged once per outage, not per probe. */
  readonly #unreachable = new Set<string>();

  constructor(requires: readonly string[], sources: ReadinessSources) {
    this.#requires = requires;
    this.#sources = sources;
  }

  async check(): Promise<ReadinessReport> {
    const statuses = await Promise.all(this.#requires.map((id) => this.#status(id)));
    const entries: Record<string, EntryStatus> = {};
    this.#requires.forEach((id, index) => (entries[id] = statuses[index]));
    return { ready: statuses.every((status) => status === ENTRY_STATUS.RUNNING || status === ENTRY_STATUS.COMPLETED), entries };
  }

  async #status(id: string): Promise<EntryStatus> {
    const { runtime } = this.#sources;
    const state = runtime.state(id);
    switch (state) {
      case undefined:
      case SERVICE_STATE.CREATED:
        return ENTRY_STATUS.NOT_STARTED;
      case SERVICE_STATE.STARTING:
        return ENTRY_STATUS.STARTING;
      case SERVICE_STATE.STOPPING:
        return ENTRY_STATUS.STOPPING;
      case SERVICE_STATE.STOPPED:
        return ENTRY_STATUS.STOPPED;
      case SERVICE_STATE.FAILED:
        return ENTRY_STATUS.FAILED;
      case SERVICE_STATE.RUNNING:
        break;
      default:
        return ENTRY_STATUS.FAILED;
    }
    if (typeof this.#sources.component(id).completed === "function") {
      return runtime.finished(id) ? ENTRY_STATUS.COMPLETED : ENTRY_STATUS.IN_PROGRESS;
    }
    if (this.#sources.registry.byId.get(id)?.kind.startsWith("db.sql.")) return this.#probeDatabase(id);
    return ENTRY_STATUS.RUNNING;
  }

  async #probeDatabase(id: string): Promise<EntryStatus> {
    const { services, probeTimeoutMs, logger } = this.#sources;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${probeTimeoutMs}ms (probe_timeout)`)), probeTimeoutMs);
      });
      const answer = (async () => {
        const database = await services.database(id);
        await database.query("SELECT 1");
      })();
      await Promise.race([answer, timedOut]);
    } catch (error) {
      if (!this.#unreachable.has(id)) {
        this.#unreachable.add(id);
        logger.warn(`readiness: ${id} did not answer SELECT 1: ${errorMessage(error)}`, { database: id, error });
      }
      return ENTRY_STATUS.UNREACHABLE;
    } finally {
      clearTimeout(timer);
    }
    if (this.#unreachable.delete(id)) logger.info(`readiness: ${id} answers again`, { database: id });
    return ENTRY_STATUS.RUNNING;
  }
}
