/**
 * @module modules/queue — the handler module for queues: publish to a `queue.queue` by id, and
 * read or settle the message a consumer is handling.
 *
 * `publish`'s third argument is either headers or `{headers, delay, priority, unique_key,
 * unique_for}`: it is read as the options form when its keys are only those, with the types they
 * take (headers an object, delay and unique_for durations, priority a number, unique_key a string);
 * anything else is headers. So a lone `{priority: 5}` sets the priority, as a `priority` header
 * would mean anyway. With `unique_key` it resolves to `{id, duplicate}` instead of the id.
 *
 * Inside a database transaction a memory queue's message is admitted after the commit. With
 * `unique_key` the key is taken at once: a second publish with it before the commit (in this
 * transaction or another) resolves to `{id: <the first's id>, duplicate: true}`, as it would after
 * the commit; a rollback frees the key, and then that id names a message that never enters.
 */
import { TaskrtError, errorMessage } from "../errors.ts";
import { parseDuration } from "../duration.ts";
import type { HeaderValue, Headers, PreparedPublish, PublishOptions, QueueHandle, UniquePublishOptions } from "../drivers/queue/driver.ts";
import { useModule, type CallContext, type TransactionScope } from "./context.ts";

export type { HeaderValue, Headers } from "../drivers/queue/driver.ts";

export interface PublishSettings {
  headers?: Headers;
  /** Milliseconds or a duration such as "30s". */
  delay?: string | number;
  /** Higher is delivered first. */
  priority?: number;
}

/** A publish deduplicated by key: dropped while the queue holds a waiting message with it (or within `unique_for` of that one's publish). */
export interface UniquePublishSettings extends PublishSettings {
  unique_key: string;
  /** Milliseconds or a duration such as "10m": how long the key stays held after its message was published, whatever became of it. */
  unique_for?: string | number;
}

export interface PublishOutcome {
  /** The new message's id, or, when `duplicate`, the id of the message holding the key. */
  id: string;
  /** The publish was dropped: the queue already holds the key. */
  duplicate: boolean;
}

/** The message a consumer's handler is processing. */
/** The delivery being handled; `Body` names its payload's shape (`queue.message<Task>()`), unchecked at run time. */
export interface Message<Body = unknown> {
  id(): string;
  header(key: string): HeaderValue | undefined;
  headers(): Headers;
  /** Deliveries so far, this one included. */
  attempts(): number;
  body(): Body;
  ack(): Promise<void>;
  /** Failure: the queue retries with backoff, or dead-letters after its max attempts. */
  nack(): Promise<void>;
  /** How far the handler got: a number (e.g. a percentage) or a JSON object, shown on the dashboard while the message is in flight. */
  progress(value: number | Record<string, unknown> | unknown[]): Promise<void>;
}

const OPTION_KEYS = new Set(["headers", "delay", "priority", "unique_key", "unique_for"]);

interface Publish {
  /**
   * With `unique_key`: resolves with `{id, duplicate}`, once the message is held or found to be a
   * duplicate; inside a database transaction on a memory queue, once its key is reserved (the
   * message is held from the commit on, and a rollback frees the key).
   */
  (queueId: string, data: unknown, options: UniquePublishSettings): Promise<PublishOutcome>;
  /**
   * Resolves with the message id once the driver holds the message; inside a database transaction
   * a memory queue's message is held from the commit on (the transaction resolves once it is).
   */
  (queueId: string, data: unknown, options?: Headers | PublishSettings): Promise<string>;
}

/** A publish whose arguments were checked and whose queue was found, not yet sent. */
export interface CheckedPublish {
  queueId: string;
  handle: QueueHandle;
  data: unknown;
  headers: Headers;
  options: PublishOptions | undefined;
  unique: UniquePublishOptions | undefined;
}

/** Checks a publish's arguments and finds its queue, synchronously: what `publish` refuses, this throws. */
export function checkPublish(context: CallContext, queueId: string, data: unknown, options?: Headers | PublishSettings | UniquePublishSettings): CheckedPublish {
  checkQueueId(queueId, context);
  if (isEmpty(data)) {
    throw new TaskrtError("E_INVALID_MESSAGE", "message data cannot be empty", {
      entryId: context.entryId,
      hint: "publish a non-empty object, an array, a string, a number or a boolean",
    });
  }
  const settings: PublishSettings & Partial<UniquePublishSettings> = isPublishSettings(options) ? options : { headers: options as Headers | undefined };
  const headers = checkHeaders(settings.headers ?? {}, context);
  // `delay` and `priority` may come as headers too (Lua's publish takes only headers); the option wins.
  const delay = settings.delay ?? (headers.delay as string | number | undefined);
  const priority = settings.priority ?? (typeof headers.priority === "number" ? headers.priority : undefined);
  const publishOptions = delay === undefined && priority === undefined ? undefined : toPublishOptions({ delay, priority }, context);
  const handle = findQueue(queueId, context);
  let unique: UniquePublishOptions | undefined;
  if (settings.unique_key !== undefined) {
    const uniqueForMs = settings.unique_for === undefined ? undefined : durationOption("unique_for", settings.unique_for, context);
    unique = { ...publishOptions, uniqueKey: settings.unique_key, uniqueForMs };
  }
  return { queueId, handle, data, headers, options: publishOptions, unique };
}

/**
 * Sends a checked publish. Inside a transaction (`context.transaction`), a driver that admits after
 * the commit (the memory queue) gets the message prepared now and admitted then; a driver storing
 * in the transaction's database joins it by itself.
 */
export async function sendPublish(context: CallContext, checked: CheckedPublish): Promise<string | PublishOutcome>;
/** Runs `send` on the publish's queue, its failure reported as any publish's. */
export async function sendPublish<T>(context: CallContext, checked: CheckedPublish, send: (handle: QueueHandle) => Promise<T>): Promise<T>;
export async function sendPublish<T>(context: CallContext, checked: CheckedPublish, send?: (handle: QueueHandle) => Promise<T>): Promise<T | string | PublishOutcome> {
  const { handle, data, headers, options } = checked;
  try {
    if (send) return await send(handle);
    if (context.transaction) {
      const prepared = await prepareInTransaction(context.transaction, checked);
      if (prepared !== undefined) return prepared;
    }
    if (checked.unique) return await handle.publishUnique(data, headers, checked.unique);
    return await handle.publish(data, headers, options);
  } catch (error) {
    if (error instanceof TaskrtError) throw error;
    throw new TaskrtError("E_QUEUE_PUBLISH", `publish to ${checked.queueId} failed: ${errorMessage(error)}`, {
      entryId: context.entryId,
      cause: error,
    });
  }
}

/**
 * A publish inside `transaction` to a driver that admits after the commit (the memory queue): the
 * message prepared now (a unique key reserved), admitted once the transaction committed and
 * discarded if it rolls back. Undefined when the driver publishes at once instead.
 */
export async function prepareInTransaction(transaction: TransactionScope, checked: CheckedPublish): Promise<string | PublishOutcome | undefined> {
  const { handle, data, headers } = checked;
  if (checked.unique) {
    const prepared = await handle.prepareUniquePublish?.(data, headers, checked.unique);
    if (!prepared) return undefined;
    // A duplicate reserved nothing: there is nothing to admit or free.
    if (!prepared.duplicate) admitAfterCommit(transaction, prepared);
    return { id: prepared.id, duplicate: prepared.duplicate };
  }
  const prepared = await handle.preparePublish?.(data, headers, checked.options);
  if (!prepared) return undefined;
  admitAfterCommit(transaction, prepared);
  return prepared.id;
}

const publish = (async (queueId: string, data: unknown, options?: Headers | PublishSettings | UniquePublishSettings): Promise<string | PublishOutcome> => {
  const context = useModule("queue");
  return sendPublish(context, checkPublish(context, queueId, data, options));
}) as Publish;

export const queue = {
  publish,

  /** Consumers of the queue (in every process sharing its driver) stop taking messages; publishes are still accepted. Kept across restarts on durable drivers. */
  async pause(queueId: string): Promise<void> {
    const context = useModule("queue");
    await findQueue(checkQueueId(queueId, context), context).pause();
  },

  async resume(queueId: string): Promise<void> {
    const context = useModule("queue");
    await findQueue(checkQueueId(queueId, context), context).resume();
  },

  async isPaused(queueId: string): Promise<boolean> {
    const context = useModule("queue");
    return findQueue(checkQueueId(queueId, context), context).isPaused();
  },

  /** Only inside a consumer's handler. */
  message<Body = unknown>(): Message<Body> {
    const context = useModule("queue");
    const scope = context.message;
    if (!scope) {
      throw new TaskrtError("E_NO_DELIVERY", "no message: queue.message() works only inside a queue consumer's handler", {
        entryId: context.entryId,
      });
    }
    const { message } = scope;
    return {
      id: () => message.id,
      header: (key) => message.headers[key],
      headers: () => ({ ...message.headers }),
      attempts: () => message.attempts,
      body: () => message.body as Body,
      ack: () => scope.ack(),
      nack: () => scope.nack(),
      progress: (value) => scope.progress(value),
    };
  },
};

function admitAfterCommit(transaction: TransactionScope, prepared: PreparedPublish): void {
  transaction.afterCommit(prepared.admit);
  transaction.onRollback(prepared.discard);
}

function checkQueueId(queueId: string, context: CallContext): string {
  if (typeof queueId !== "string" || queueId.length === 0) {
    throw new TaskrtError("E_INVALID_QUEUE_ID", "queue id must be a non-empty string such as app:tasks_queue", {
      entryId: context.entryId,
    });
  }
  return queueId;
}

/** As Wippy: no data, and an empty table (object or array), carry nothing. */
function isEmpty(data: unknown): boolean {
  if (data === undefined || data === null) return true;
  if (Array.isArray(data)) return data.length === 0;
  if (typeof data === "object") return Object.getPrototypeOf(data) === Object.prototype && Object.keys(data).length === 0;
  return false;
}

function isPublishSettings(options: unknown): options is PublishSettings | UniquePublishSettings {
  if (typeof options !== "object" || options === null) return false;
  const keys = Object.keys(options);
  if (keys.length === 0 || !keys.every((key) => OPTION_KEYS.has(key))) return false;
  const { headers, delay, priority, unique_key, unique_for } = options as Record<string, unknown>;
  return (
    (unique_key === undefined || typeof unique_key === "string") &&
    (unique_for === undefined || typeof unique_for === "string" || typeof unique_for === "number") &&
    (headers === undefined || (typeof headers === "object" && headers !== null)) &&
    (delay === undefined || typeof delay === "string" || typeof delay === "number") &&
    (priority === undefined || typeof priority === "number")
  );
}

/** `x_*` and `attempts` belong to the runtime's retry and dead-letter bookkeeping. */
function checkHeaders(headers: Headers, context: CallContext): Headers {
  if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
    throw new TaskrtError("E_INVALID_HEADER", "headers must be an object of string, number or boolean values", {
      entryId: context.entryId,
    });
  }
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith("x_") || key === "attempts") {
      throw new TaskrtError("E_RESERVED_HEADER", `header '${key}' is reserved for the runtime (x_* and attempts)`, {
        entryId: context.entryId,
        hint: "rename the header; the runtime sets x_* and attempts for retries and dead letters",
      });
    }
    const type = typeof value;
    if (type !== "string" && type !== "number" && type !== "boolean") {
      throw new TaskrtError(
        "E_INVALID_HEADER",
        `header '${key}' must be a string, number or boolean, got ${value === null ? "null" : Array.isArray(value) ? "array" : type}`,
        { entryId: context.entryId },
      );
    }
  }
  return headers;
}

function durationOption(name: string, value: string | number, context: CallContext): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new TaskrtError("E_INVALID_DELAY", `publish ${name}: ${errorMessage(error)}`, {
      entryId: context.entryId,
      hint: 'write a number of milliseconds or a duration such as "10m"',
      cause: error,
    });
  }
}

function toPublishOptions(settings: PublishSettings, context: CallContext): PublishOptions | undefined {
  if (settings.delay === undefined && settings.priority === undefined) return undefined;
  const options: PublishOptions = {};
  if (settings.delay !== undefined) {
    try {
      options.delayMs = parseDuration(settings.delay);
    } catch (error) {
      throw new TaskrtError("E_INVALID_DELAY", `publish delay: ${errorMessage(error)}`, {
        entryId: context.entryId,
        hint: 'write a number of milliseconds or a duration such as "30s"',
        cause: error,
      });
    }
  }
  if (settings.priority !== undefined) {
    if (!Number.isFinite(settings.priority)) {
      throw new TaskrtError("E_INVALID_PRIORITY", `priority must be a finite number, got ${settings.priority}`, {
        entryId: context.entryId,
      });
    }
    options.priority = settings.priority;
  }
  return options;
}

function findQueue(queueId: string, context: CallContext): QueueHandle {
  try {
    return context.services.queue(queueId);
  } catch (error) {
    throw new TaskrtError("E_QUEUE_NOT_FOUND", `queue ${queueId} not found`, {
      entryId: context.entryId,
      hint: (error instanceof TaskrtError ? error.hint : undefined) ?? "publish to the full id of a queue.queue entry, e.g. app:tasks_queue",
      cause: error,
    });
  }
}
