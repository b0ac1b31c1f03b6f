/**
 * @module contracts/component — what every live entry is to the supervisor: a thing it may start,
 * stop, wait on and describe. The ground floor: drivers, modules and kinds all name it.
 */

/** A live entry. Every method is optional: plain resources (a queue, a function) need none. */
export interface Component {
  start?(): Promise<void>;
  stop?(): Promise<void>;
  /** One-shot services (a migration): resolves once the work finished successfully. Dependents wait for it. */
  completed?(): Promise<void>;
  /** Status for humans: `listening on 127.0.0.1:8080`. */
  describe?(): string | undefined;
}
