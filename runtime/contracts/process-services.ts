/**
 * @module contracts/process-services — the runtime-wide services the Wippy process-model modules
 * reach (`env`, `events`, `io`): what the kinds provide and the modules call, named here so
 * neither imports the other.
 */

/** Where `env.variable` values live: an `env.storage.*` entry's component. */
export interface EnvStorage {
  readonly readonly: boolean;
  /** The value, or undefined when the storage has none. */
  get(key: string): string | undefined | Promise<string | undefined>;
  set(key: string, value: string): void | Promise<void>;
}

/** The `env.variable` entries, by public name or entry id. */
export interface EnvironmentVariables {
  /** The value (the storage's, else the variable's default); E_ENV_NOT_FOUND when neither. */
  get(name: string): Promise<string>;
  /** E_ENV_PERMISSION_DENIED for a read-only variable or storage. */
  set(name: string, value: string): Promise<void>;
  /** Every variable that has a value, by public name (entry id for variables without one). */
  all(): Promise<Record<string, string>>;
}

/** One event on the bus, as Wippy's `events` module carries it. */
export interface BusEvent {
  system: string;
  kind: string;
  path: string;
  data?: unknown;
}

/**
 * The publish/subscribe bus. `deliver` is the hook every kind of subscriber plugs into: a
 * subscription's buffer for `sub:receive()`, a process inbox or channel (the process model).
 */
export interface EventBus {
  send(event: BusEvent): void;
  /** `system` may end in `*` (`orders.*`, `*`); `kind` undefined takes every kind. Returns the unsubscribe. */
  subscribe(system: string, kind: string | undefined, deliver: (event: BusEvent) => void): () => void;
}

/** A terminal a process runs on (`terminal.host`, `taskrt run -x`): what the `io` module reads and writes. */
export interface TerminalSession {
  write(text: string): Promise<void>;
  writeError(text: string): Promise<void>;
  /** The next line without its end of line; undefined at the end of the input. */
  readLine(signal?: AbortSignal): Promise<string | undefined>;
  /** Up to `size` bytes of the input as text; undefined at its end. */
  read(size: number, signal?: AbortSignal): Promise<string | undefined>;
  /** The command-line arguments after `--`. */
  readonly args: readonly string[];
}
