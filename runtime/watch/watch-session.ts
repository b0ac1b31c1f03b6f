/**
 * @module watch/watch-session — `taskrt run --watch`: reloads a running registry when its files
 * change, refusing a broken edit while the running version keeps serving.
 *
 * States: WATCHING (a runtime serves — or none, after a reload whose start failed and whose
 * previous version would not start again) → RELOADING → WATCHING; any state → STOPPED by stop().
 * A reload opens a new handler generation (module-generations.ts) and checks the new files with
 * the same pipeline as start (`checkRegistry`). With errors it prints them, goes back to the old
 * generation and changes nothing. Otherwise it stops the old runtime gracefully — the HTTP server
 * stops accepting and lets in-flight requests finish, consumers finish the messages they hold and
 * hand the rest back — then starts the new one. New connections are refused during that gap: Node
 * 20 cannot share a listening port between two servers. A durable queue keeps every accepted task
 * through the gap; an in-memory queue loses what was still queued, which is warned about once.
 * If the new version fails to start, the previous one (its registry and its cached modules) is
 * started again. Changes seen while RELOADING are collected and reloaded right after.
 */
import { formatProblem, errorMessage } from "../errors.ts";
import type { KindDefinition } from "../contracts/kind-definition.ts";
import { createLogger, type Logger } from "../logger.ts";
import type { Registry } from "../registry/entry.ts";
import { Runtime, checkRegistry, startChecked, type CheckedRegistry } from "../runtime.ts";
import { SERVICE_STATE } from "../contracts/build-context.ts";
import { FileWatcher } from "./file-watcher.ts";
import { beginGeneration, restoreGeneration } from "./module-generations.ts";
import { registryFiles } from "./watched-files.ts";

export const WATCH_STATE = {
  WATCHING: "WATCHING",
  RELOADING: "RELOADING",
  STOPPED: "STOPPED",
} as const;
export type WatchState = (typeof WATCH_STATE)[keyof typeof WATCH_STATE];

/** `reloaded`: the new version serves; `refused`: it had errors, nothing changed; `failed`: it did not start. */
export type ReloadStatus = "reloaded" | "refused" | "failed" | "stopped";

/** Long enough to see an editor's write-and-rename (or a `git checkout`) as one change. */
const DEBOUNCE_MS = 150;
const ZERO_PORT = /:0$/;

export interface WatchOptions {
  /** The registry path the runtime was started from. */
  path: string;
  overrides?: readonly string[];
  /** Unknown fields are errors: a reload that adds one is refused. */
  strict?: boolean;
  kinds?: readonly KindDefinition[];
  logger?: Logger;
  /** Receives each status line (without newline). */
  report: (line: string) => void;
  /** How file names are shown (the CLI shows them relative to the working directory). */
  relativePath?: (file: string) => string;
  debounceMs?: number;
}

/** Starts watching the files `runtime` was built from; reloads on change until `stop()`. */
export function watchRuntime(runtime: Runtime, options: WatchOptions): WatchSession {
  return new WatchSession(runtime, options);
}

export class WatchSession {
  private current: Runtime | undefined;
  private currentState: WatchState = WATCH_STATE.WATCHING;
  private readonly watcher: FileWatcher;
  private readonly logger: Logger;
  private readonly show: (file: string) => string;
  /** The project root: `path` is fixed, so it never changes. */
  private readonly root: string;
  /** Ports the OS chose for `addr: host:0` servers, kept across reloads so the URL stays the same. */
  private readonly boundPorts = new Map<string, number>();
  private readonly warnedDrivers = new Set<string>();
  private readonly pendingFiles = new Set<string>();
  /** The reload running now (or the last one); the next one waits for it. */
  private chain: Promise<unknown> = Promise.resolve();
  /** The reload waiting behind `chain`, which further changes join. */
  private next: Promise<ReloadStatus> | undefined;

  constructor(
    runtime: Runtime,
    private readonly options: WatchOptions,
  ) {
    this.current = runtime;
    this.root = runtime.registry.root;
    this.logger = options.logger ?? createLogger();
    this.show = options.relativePath ?? ((file) => file);
    this.watcher = new FileWatcher({
      debounceMs: options.debounceMs ?? DEBOUNCE_MS,
      onChange: (files) => void this.reload(files),
      onError: (directory, error) => this.say(`stopped watching ${this.show(directory)}: ${error.message}`),
    });
    this.watcher.add(registryFiles(runtime.registry, options.path));
    const { files, directories } = this.watcher.counts();
    this.say(
      `watching ${files} file${files === 1 ? "" : "s"} in ${directories} director${directories === 1 ? "y" : "ies"}: ` +
        "a saved change restarts the services (new connections are refused for the moment that takes); a broken one is refused and this version keeps serving",
    );
    this.afterStart(runtime);
  }

  get runtime(): Runtime | undefined {
    return this.current;
  }

  get state(): WatchState {
    return this.currentState;
  }

  /** Reloads after the reload in progress, if any; changes requested meanwhile are reloaded together. */
  reload(changedFiles: readonly string[]): Promise<ReloadStatus> {
    for (const file of changedFiles) this.pendingFiles.add(file);
    if (!this.next) {
      const next = this.chain.then(() => {
        this.next = undefined;
        const files = [...this.pendingFiles].sort();
        this.pendingFiles.clear();
        return this.reloadNow(files);
      });
      this.next = next;
      this.chain = next.catch(() => undefined);
    }
    return this.next;
  }

  /** Stops watching, lets a reload in progress finish, then stops the running version gracefully. */
  async stop(): Promise<void> {
    this.currentState = WATCH_STATE.STOPPED;
    this.watcher.close();
    await this.chain;
    await this.current?.stop();
  }

  private async reloadNow(files: string[]): Promise<ReloadStatus> {
    if (this.currentState === WATCH_STATE.STOPPED) return "stopped";
    this.currentState = WATCH_STATE.RELOADING;
    // Before the check reads them: later events for files that still hold this content are not changes.
    this.watcher.noteRead(files);
    const previousGeneration = beginGeneration(this.root);
    try {
      return await this.replace(files, previousGeneration);
    } catch (error) {
      // A bug in the reload itself must not end the process that is serving.
      restoreGeneration(previousGeneration);
      this.say(`reload failed unexpectedly (a bug — please report it): ${error instanceof Error ? error.stack : String(error)}`);
      return "failed";
    } finally {
      if (this.currentState === WATCH_STATE.RELOADING) this.currentState = WATCH_STATE.WATCHING;
    }
  }

  /** Checks the files in the new generation, then swaps the runtime; `previousGeneration` is restored when the new version does not run. */
  private async replace(files: string[], previousGeneration: number): Promise<ReloadStatus> {
    const began = performance.now();
    this.say(`change detected: ${files.length ? files.map(this.show).join(", ") : "(reload requested)"} — reloading`);
    const checked = await this.check();
    if (!checked) {
      restoreGeneration(previousGeneration);
      return "refused";
    }

    this.pinPorts(checked.registry);
    const previous = this.current;
    const downSince = performance.now();
    if (previous) {
      this.current = undefined;
      await previous.stop().catch((error: unknown) => this.say(`the previous version stopped with errors: ${errorMessage(error)}`));
    }
    try {
      this.current = await startChecked(checked.registry, checked.problems, { kinds: this.options.kinds, logger: this.logger });
    } catch (error) {
      this.say(`reload failed: ${errorMessage(error)}`);
      restoreGeneration(previousGeneration);
      if (previous) await this.restartPrevious(previous);
      return "failed";
    }
    const now = performance.now();
    const entries = checked.registry.entries.length;
    this.say(`reloaded in ${Math.round(now - began)}ms (${entries} entr${entries === 1 ? "y" : "ies"}; services were down for ${Math.round(now - downSince)}ms)`);
    this.afterStart(this.current);
    return "reloaded";
  }

  /** The new registry when it has no errors; otherwise its problems are printed and it is undefined. */
  private async check(): Promise<CheckedRegistry | undefined> {
    const checked = await checkRegistry({ path: this.options.path, overrides: this.options.overrides, kinds: this.options.kinds, strict: this.options.strict });
    // Files a broken edit dropped stay watched (the set only grows), so fixing them reloads.
    this.watcher.add(registryFiles(checked.registry, this.options.path));
    for (const problem of checked.problems) this.say(formatProblem(problem, this.show));
    const errors = checked.problems.filter((problem) => problem.severity === "error").length;
    if (errors === 0) return checked;
    this.say(`reload refused: ${errors} error${errors === 1 ? "" : "s"} — ${this.whatServes()}`);
    return undefined;
  }

  private async restartPrevious(previous: Runtime): Promise<void> {
    this.say("starting the previous version again");
    try {
      this.current = await startChecked(previous.registry, previous.warnings, { kinds: this.options.kinds, logger: this.logger });
      this.say("the previous version is serving again");
      this.afterStart(this.current);
    } catch (error) {
      this.say(`the previous version did not start either: ${errorMessage(error)} — nothing is running; save a fix to reload`);
    }
  }

  private whatServes(): string {
    return this.current ? "the running version keeps serving" : "nothing is running until a reload succeeds";
  }

  private afterStart(runtime: Runtime): void {
    this.rememberPorts(runtime);
    for (const entry of runtime.started()) {
      if (entry.kind !== "queue.driver.memory" || this.warnedDrivers.has(entry.id)) continue;
      this.warnedDrivers.add(entry.id);
      this.say(
        `warning: ${entry.id} (queue.driver.memory) keeps queued messages in memory only: a reload drops them ` +
          "(messages being handled finish first); a durable driver such as queue.driver.sqlite keeps them",
      );
    }
  }

  private rememberPorts(runtime: Runtime): void {
    for (const entry of runtime.registry.entries) {
      if (entry.kind !== "http.service" || this.boundPorts.has(entry.id) || !ZERO_PORT.test(String(entry.data.addr))) continue;
      if (runtime.supervisor.state(entry.id) !== SERVICE_STATE.RUNNING) continue;
      this.boundPorts.set(entry.id, runtime.component<{ address(): { port: number } }>(entry.id).address().port);
    }
  }

  private pinPorts(registry: Registry): void {
    for (const entry of registry.entries) {
      const port = this.boundPorts.get(entry.id);
      const addr = String(entry.data.addr);
      if (entry.kind === "http.service" && port !== undefined && ZERO_PORT.test(addr)) entry.data.addr = addr.replace(ZERO_PORT, `:${port}`);
    }
  }

  private say(line: string): void {
    this.options.report(line);
  }
}

