/**
 * @module http/in-flight — the requests a server is working on: one coarse sweep (not a timer per
 * request) expires those past the write timeout, and a stop that gives up can say how many remain.
 *
 * Requests form an intrusive list in arrival order: adding and removing cost two pointer writes
 * (no hashing on the hot path), and a sweep stops at the first request still within its time.
 */

/** A request being served; `expire` answers it when it outlives the write timeout. */
export abstract class InFlightRequest {
  /** `Date.now()` when the request was accepted. */
  readonly started = Date.now();
  previous: InFlightRequest | undefined = undefined;
  next: InFlightRequest | undefined = undefined;
  listed = false;
  abstract expire(): void;
}

export class InFlightRequests {
  readonly #writeTimeout: number;
  #oldest: InFlightRequest | undefined;
  #newest: InFlightRequest | undefined;
  #size = 0;
  #sweeper: NodeJS.Timeout | undefined;

  /** `writeTimeout` in ms; 0 disables it (and the sweep). */
  constructor(writeTimeout: number) {
    this.#writeTimeout = writeTimeout;
    if (writeTimeout > 0) {
      // A few sweeps per timeout period: a precision of about a quarter of it, which is all a
      // write timeout needs, for the price of one timer per server instead of one per request.
      const interval = Math.min(1000, Math.max(10, Math.floor(writeTimeout / 4)));
      this.#sweeper = setInterval(() => this.#sweep(), interval);
      this.#sweeper.unref();
    }
  }

  get size(): number {
    return this.#size;
  }

  add(request: InFlightRequest): void {
    request.listed = true;
    request.previous = this.#newest;
    if (this.#newest) this.#newest.next = request;
    else this.#oldest = request;
    this.#newest = request;
    this.#size++;
  }

  /** Idempotent: a request may finish after it expired. */
  delete(request: InFlightRequest): void {
    if (!request.listed) return;
    request.listed = false;
    if (request.previous) request.previous.next = request.next;
    else this.#oldest = request.next;
    if (request.next) request.next.previous = request.previous;
    else this.#newest = request.previous;
    request.previous = request.next = undefined;
    this.#size--;
  }

  close(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #sweep(): void {
    const deadline = Date.now() - this.#writeTimeout;
    let request = this.#oldest;
    while (request && request.started <= deadline) {
      // `expire` may remove the request from the list: step on first.
      const next = request.next;
      request.expire();
      request = next;
    }
  }
}
