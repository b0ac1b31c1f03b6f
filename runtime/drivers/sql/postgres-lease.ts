/**
 * @module drivers/sql/postgres-lease — one pooled connection checked out by the PostgreSQL driver:
 * its statements run one after another, and a connection that failed is destroyed, not reused.
 */
import type pg from "pg";

export class Lease {
  readonly client: pg.PoolClient;
  /** The connection failed under us: it is destroyed, not returned, on release. */
  broken = false;
  /** Why, when the socket died between statements: later statements only hear "not queryable". */
  failure: Error | undefined;
  #released = false;
  #tail: Promise<unknown> = Promise.resolve();
  readonly #onError: (error: Error) => void;

  constructor(client: pg.PoolClient, onError: (error: Error) => void) {
    this.client = client;
    // A checked-out client emits 'error' when its socket dies; unheard, that would crash the process.
    this.#onError = (error) => {
      this.broken = true;
      this.failure ??= error;
      onError(error);
    };
    client.on("error", this.#onError);
  }

  get released(): boolean {
    return this.#released;
  }

  /** `I` idle, `T` in a transaction, `E` in a failed transaction: as of the last completed statement. */
  get transactionStatus(): string | null {
    return this.client.getTransactionStatus();
  }

  /** pg deprecates queueing on a busy client, and a transaction must see its statements in order anyway. */
  run<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.#tail.then(work);
    this.#tail = turn.catch(() => undefined);
    return turn;
  }

  /** Back to the pool, or closed when `destroy` or the connection failed. Later calls do nothing. */
  release(destroy: boolean): void {
    if (this.#released) return;
    this.#released = true;
    this.client.removeListener("error", this.#onError);
    this.client.release(destroy || this.broken ? true : undefined);
  }
}
