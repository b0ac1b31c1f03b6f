/**
 * @module kinds/queue-consumer — `queue.consumer`: a service calling a function with each message
 * body of a queue, at most `concurrency` at once, settling each message by the handler's outcome.
 *
 * States: IDLE → start → RUNNING → stop → STOPPING → STOPPED (→ start → RUNNING again).
 * - RUNNING: the subscription hands over up to `prefetch` unsettled deliveries; they wait in a
 *   FIFO until one of `concurrency` slots is free.
 * - STOPPING: the subscription is cancelled, waiting deliveries are released (no attempt counted),
 *   running handlers get `lifecycle.stop_timeout` to finish, then their signals are aborted.
 *
 * Settlement (stricter than Wippy's source, which acks a `false` return; its docs say nack):
 * - the handler settled through `queue.message()` → nothing more (its nack went through `fail`);
 * - it threw, returned an error (Lua `nil, err`), returned `false`, or ran past `timeout` → the
 *   queue's `fail()`: retry with backoff, dead-letter or bury;
 * - anything else (nothing, `true`, any value) → ack.
 */
import { TaskrtError, errorMessage } from "../errors.ts";
import { resolveId, type Entry } from "../registry/entry.ts";
import type { Logger } from "../logger.ts";
import { formatDuration, parseDuration } from "../duration.ts";
import { isCallableComponent, type Callable, type CallResult, type CallScope } from "../handlers/handler.ts";
import type { Delivery, QueueHandle, RateLimit, Subscription } from "../drivers/queue/driver.ts";
import type { MessageScope } from "../modules/context.ts";
import { claimSettlement, createMessageScope } from "../queue/message-scope.ts";
import { NO_CONSUMER_RECORDER, NO_INSTRUMENTS, type ConsumerRecorder } from "../metrics/instruments.ts";
import { isQueueHandle, parseRate } from "./queue-queue.ts";
import type { Component } from "../contracts/component.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import { defineKind } from "../contracts/kind-definition.ts";

export const CONSUMER_STATES = { IDLE: "idle", RUNNING: "running", STOPPING: "stopping", STOPPED: "stopped" } as const;
type ConsumerState = (typeof CONSUMER_STATES)[keyof typeof CONSUMER_STATES];

interface RunningCall {
  controller: AbortController;
  done: Promise<void>;
}

type Outcome =
  | { kind: "result"; result: CallResult }
  | { kind: "crash"; error: unknown }
  /** `claimed`: the runtime took the settlement (the handler had not settled yet). */
  | { kind: "timeout"; claimed: boolean };

export class QueueConsumer implements Component {
  readonly id: string;
  private readonly queueId: string;
  private readonly funcId: string;
  private readonly concurrency: number;
  private readonly prefetch: number;
  private readonly timeoutMs: number | undefined;
  private readonly stopTimeoutMs: number;
  private readonly rate: RateLimit | undefined;
  private state: ConsumerState = CONSUMER_STATES.IDLE;
  private queue: QueueHandle | undefined;
  private progressRefusal: string | undefined;
  private callable: Callable | undefined;
  /** Bound at start; measures nothing unless a `taskrt.metrics` entry is collecting. */
  private metrics: ConsumerRecorder = NO_CONSUMER_RECORDER;
  private subscription: Subscription | undefined;
  private waiting: Delivery[] = [];
  private readonly running = new Set<RunningCall>();
  /**
   * Settlements under way. A worker slot is freed as soon as its handler returns, not when the
   * driver has committed the ack: waiting for each commit would make every worker wait one fsync
   * per message. `prefetch` still bounds the unsettled messages; stop() waits for these.
   */
  private readonly settling = new Set<Promise<void>>();

  constructor(
    entry: Entry,
    private readonly context: BuildContext,
    private readonly logger: Logger,
  ) {
    const data = entry.data as {
      queue: string;
      func: string;
      concurrency: number;
      prefetch: number;
      timeout?: string | number;
      lifecycle: { stop_timeout: string | number };
    };
    this.id = entry.id;
    this.queueId = resolveId(data.queue, entry.namespace);
    this.funcId = resolveId(data.func, entry.namespace);
    this.concurrency = data.concurrency;
    this.prefetch = data.prefetch;
    this.timeoutMs = data.timeout === undefined ? undefined : parseDuration(data.timeout);
    this.stopTimeoutMs = parseDuration(data.lifecycle.stop_timeout);
    this.rate = parseRate(entry, `consumer:${entry.id}`);
  }

  async start(): Promise<void> {
    // Resolved here, not in create: the function loads its code in its own start, which ran first.
    this.callable = this.resolveCallable();
    this.queue = this.resolveQueue();
    this.progressRefusal = this.queue.refusal("progress");
    this.metrics = (this.context.instruments ?? NO_INSTRUMENTS).consumer(this.id);
    if (this.prefetch < this.concurrency) {
      this.logger.warn(`prefetch ${this.prefetch} is below concurrency ${this.concurrency}: at most ${this.prefetch} handlers run at once`);
    }
    this.state = CONSUMER_STATES.RUNNING;
    try {
      this.subscription = await this.queue.consume({ prefetch: this.prefetch, ...(this.rate ? { rates: [this.rate] } : {}) }, (delivery) => this.accept(delivery));
    } catch (error) {
      this.state = CONSUMER_STATES.IDLE;
      throw error;
    }
    this.logger.debug(this.describe());
  }

  async stop(): Promise<void> {
    if (this.state !== CONSUMER_STATES.RUNNING) return;
    this.state = CONSUMER_STATES.STOPPING;
    await this.subscription?.cancel();
    this.subscription = undefined;
    const released = this.waiting.splice(0);
    await Promise.all(released.map((delivery) => this.settleQuietly(delivery, () => delivery.release())));
    const inFlight = this.running.size;
    this.logger.info(
      `stopping: stopped taking messages, released ${plural(released.length, "waiting message")}` +
        (inFlight > 0 ? `, waiting up to ${formatDuration(this.stopTimeoutMs)} for ${plural(inFlight, "running handler")}` : ""),
    );
    if (inFlight > 0 && !(await this.allFinishedWithin(this.stopTimeoutMs))) {
      const left = [...this.running];
      for (const call of left) call.controller.abort(new TaskrtError("E_STOPPING", `consumer ${this.id} is stopping`));
      this.logger.warn(
        `${plural(left.length, "handler")} still running after ${formatDuration(this.stopTimeoutMs)}: aborted; their messages stay unsettled`,
      );
    }
    await Promise.all(this.settling);
    this.state = CONSUMER_STATES.STOPPED;
    this.logger.info("stopped");
  }

  describe(): string {
    return `consuming ${this.queueId} with ${plural(this.concurrency, "worker")} (prefetch ${this.prefetch})`;
  }

  private accept(delivery: Delivery): void {
    if (this.state !== CONSUMER_STATES.RUNNING) {
      void this.settleQuietly(delivery, () => delivery.release());
      return;
    }
    this.waiting.push(delivery);
    this.drain();
  }

  private drain(): void {
    while (this.running.size < this.concurrency && this.waiting.length > 0 && this.state === CONSUMER_STATES.RUNNING) {
      const delivery = this.waiting.shift()!;
      const call: RunningCall = { controller: new AbortController(), done: Promise.resolve() };
      this.running.add(call);
      call.done = this.handle(delivery, call.controller)
        .catch((error: unknown) => this.logger.error(`handling message ${delivery.message.id} failed unexpectedly: ${errorMessage(error)}`, { error }))
        .finally(() => {
          this.running.delete(call);
          this.drain();
        });
    }
  }

  private async handle(delivery: Delivery, controller: AbortController): Promise<void> {
    const metrics = this.metrics;
    const scope = createMessageScope(delivery, () => this.fail(delivery, "handler called nack()"), this.progressRefusal);
    const startedAt = metrics.enabled ? performance.now() : 0;
    const outcome = await this.call(delivery, scope, controller);
    if (metrics.enabled) metrics.handled((performance.now() - startedAt) / 1000);
    // The settlement was claimed when the timer fired; a handler that settled first keeps its own
    // (its nack went through fail() already).
    if (outcome.kind === "timeout" ? !outcome.claimed : scope.settled !== undefined) {
      if (scope.settled === "ack") metrics.processed();
      return;
    }
    const failure = failureOf(outcome, this.timeoutMs);
    if (outcome.kind !== "timeout") claimSettlement(scope, failure === undefined ? "ack" : "nack");
    if (failure === undefined) {
      metrics.processed();
      this.settleInBackground(delivery, () => delivery.ack());
      return;
    }
    const { message } = delivery;
    this.logger.warn(`message ${message.id} failed on attempt ${message.attempts}: ${failure}`, {
      messageId: message.id,
      attempt: message.attempts,
      error: failure,
    });
    this.settleInBackground(delivery, () => this.fail(delivery, failure));
  }

  /** The queue's failure policy (retry, dead-letter or bury), counted. */
  private fail(delivery: Delivery, error: string): Promise<void> {
    this.metrics.failed();
    return this.queue!.fail(this.metrics.observeFailure(delivery), error);
  }

  private settleInBackground(delivery: Delivery, settle: () => Promise<void>): void {
    const settling = this.settleQuietly(delivery, settle).finally(() => this.settling.delete(settling));
    this.settling.add(settling);
  }

  /**
   * Runs the handler. On timeout the settlement is claimed before the signal is aborted, so a
   * handler reacting to the abort cannot ack a message that is being failed.
   */
  private call(delivery: Delivery, scope: MessageScope, controller: AbortController): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      if (this.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const claimed = scope.settled === undefined;
          if (claimed) claimSettlement(scope, "nack");
          controller.abort(new TaskrtError("E_HANDLER_TIMEOUT", `handler timed out after ${formatDuration(this.timeoutMs!)}`));
          resolve({ kind: "timeout", claimed });
        }, this.timeoutMs);
      }
      this.callable!.call([delivery.message.body], new DeliveryCallScope(scope, controller)).then(
        (result) => {
          clearTimeout(timer);
          resolve({ kind: "result", result });
        },
        (error: unknown) => {
          clearTimeout(timer);
          resolve({ kind: "crash", error });
        },
      );
    });
  }

  /** A settlement that fails (driver stopped, dead-letter queue gone) is reported, never thrown into the void. */
  private async settleQuietly(delivery: Delivery, settle: () => Promise<void>): Promise<void> {
    try {
      await settle();
    } catch (error) {
      this.logger.error(`could not settle message ${delivery.message.id}: ${errorMessage(error)}`, {
        messageId: delivery.message.id,
        error,
      });
    }
  }

  private async allFinishedWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const finished = Promise.all([...this.running].map((call) => call.done)).then(() => true as const);
    const result = await Promise.race([finished, timedOut]);
    clearTimeout(timer);
    return result;
  }

  private resolveCallable(): Callable {
    const component = this.context.component(this.funcId);
    if (!isCallableComponent(component)) {
      throw new TaskrtError("E_CONSUMER_FUNC", `consumer ${this.id}: ${this.funcId} is not a callable function`, {
        entryId: this.id,
        hint: "point func at a function.* entry",
      });
    }
    return component.callable();
  }

  private resolveQueue(): QueueHandle {
    const component = this.context.component(this.queueId);
    if (!isQueueHandle(component)) {
      throw new TaskrtError("E_CONSUMER_QUEUE", `consumer ${this.id}: ${this.queueId} is not a queue`, {
        entryId: this.id,
        hint: "point queue at a queue.queue entry",
      });
    }
    return component;
  }
}

/** The failure text for an outcome, or undefined when the message should be acked. */
/**
 * What the handler's call is given. A class: an object literal with a getter is built by V8's slow
 * path (see handlers/call-context.ts), once per message here.
 */
class DeliveryCallScope implements CallScope {
  readonly message: MessageScope;
  readonly #controller: AbortController;

  constructor(message: MessageScope, controller: AbortController) {
    this.message = message;
    this.#controller = controller;
  }

  /** Made on first read (AbortController's is lazy): only by a handler that listens. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }
}

function failureOf(outcome: Outcome, timeoutMs: number | undefined): string | undefined {
  switch (outcome.kind) {
    case "timeout":
      return `handler timed out after ${formatDuration(timeoutMs!)}`;
    case "crash":
      return errorMessage(outcome.error);
    case "result":
      if (outcome.result.error) return outcome.result.error.message;
      if (outcome.result.value === false) return "handler returned false";
      return undefined;
    default: {
      const unknown: never = outcome;
      throw new Error(`unknown outcome ${JSON.stringify(unknown)}`);
    }
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

export function createQueueConsumer(entry: Entry, context: BuildContext): QueueConsumer {
  return new QueueConsumer(entry, context, context.logger.forEntry(entry.id));
}

export default defineKind({
  kind: "queue.consumer",
  summary: "Calls a function with each message of a queue, with bounded concurrency and retries",
  references: [
    { path: ["queue"], kinds: ["queue.queue"] },
    { path: ["func"], kinds: ["function.*"] },
  ],
  service: true,
  create: (entry, context) => createQueueConsumer(entry, context),
});
