/**
 * @module metrics/instruments — the hooks the runtime's own code calls to be measured (HTTP routes,
 * consumers, process restarts, start-up, errors handler code leaked), one set per runtime, doing nothing until a
 * `taskrt.metrics` entry attaches its collector.
 *
 * Hot paths ask once, when they start, for a recorder bound to their labels (a route, a consumer),
 * so each request or message costs only the recorder's calls; with no collector attached, an HTTP
 * route gets no recorder at all (its handler is served unwrapped) and a consumer gets one whose
 * methods are empty and whose `enabled` is false.
 */
import type { Delivery } from "../drivers/queue/driver.ts";
import { TaskrtError } from "../errors.ts";

/** The requests of one route (declared path pattern and method). */
export interface HttpRouteRecorder {
  record(status: number, seconds: number): void;
}

/** The messages of one consumer. */
export interface ConsumerRecorder {
  /** False when nothing is measured: callers skip their clock reads. */
  readonly enabled: boolean;
  /** A handler call finished (whatever its outcome), after `seconds`. */
  handled(seconds: number): void;
  /** The message was acknowledged: by the runtime after the handler succeeded, or by the handler. */
  processed(): void;
  /** The handler failed (threw, returned an error or false, timed out, or called nack). */
  failed(): void;
  /**
   * The delivery to hand to the queue's `fail()`: the queue settles it by its policy, and how it
   * does tells the outcome — `retry` is a retry, `ack` (after the dead-letter publish) or `bury` a
   * dead letter. The no-op recorder returns the delivery itself.
   */
  observeFailure(delivery: Delivery): Delivery;
}

/** What a collector implements; `Instruments` forwards to it while it is attached. */
export interface MetricsSink {
  readonly entryId: string;
  /** `route` is the declared pattern with the router prefix (`/tasks/{id}`), never a raw URL. */
  httpRoute(route: string, method: string): HttpRouteRecorder;
  consumer(consumerId: string): ConsumerRecorder;
  processRestarted(serviceId: string): void;
  startupFinished(seconds: number): void;
  /** Handler code leaked an error (an unhandled rejection, a throw in a timer); `entry` may be "unknown". */
  unhandledError(entry: string): void;
}

export const NO_CONSUMER_RECORDER: ConsumerRecorder = Object.freeze({
  enabled: false,
  handled() {},
  processed() {},
  failed() {},
  observeFailure: (delivery: Delivery) => delivery,
});

export class Instruments {
  #sink: MetricsSink | undefined;
  readonly #attachable: boolean;

  constructor(options: { attachable?: boolean } = {}) {
    this.#attachable = options.attachable ?? true;
  }

  /** Called by the `taskrt.metrics` entry's start; one collector per runtime. */
  attach(sink: MetricsSink): void {
    if (!this.#attachable) {
      throw new TaskrtError("E_INTERNAL", `internal: ${sink.entryId} was built without a runtime to measure (no BuildContext.instruments)`, {
        entryId: sink.entryId,
      });
    }
    if (this.#sink && this.#sink !== sink) {
      throw new TaskrtError("E_METRICS_TWICE", `${sink.entryId}: metrics are already collected by ${this.#sink.entryId}`, {
        entryId: sink.entryId,
        hint: "declare one taskrt.metrics entry per registry",
      });
    }
    this.#sink = sink;
  }

  detach(sink: MetricsSink): void {
    if (this.#sink === sink) this.#sink = undefined;
  }

  get attached(): boolean {
    return this.#sink !== undefined;
  }

  /** Undefined while nothing is collected: the server then serves the route without a wrapper. */
  httpRoute(route: string, method: string): HttpRouteRecorder | undefined {
    return this.#sink?.httpRoute(route, method);
  }

  consumer(consumerId: string): ConsumerRecorder {
    return this.#sink?.consumer(consumerId) ?? NO_CONSUMER_RECORDER;
  }

  processRestarted(serviceId: string): void {
    this.#sink?.processRestarted(serviceId);
  }

  startupFinished(seconds: number): void {
    this.#sink?.startupFinished(seconds);
  }

  unhandledError(entry: string): void {
    this.#sink?.unhandledError(entry);
  }
}

/** For components built without a runtime (unit tests with hand-made contexts): never attached. */
export const NO_INSTRUMENTS: Instruments = new Instruments({ attachable: false });
