/**
 * @module modules/context — the call context every handler runs in (entry id, declared modules,
 * the HTTP exchange or queue delivery), and the capability check each module makes before acting.
 */
import { AsyncSlot } from "../async-slots.ts";
import { TaskrtError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { RuntimeServices } from "../contracts/runtime-services.ts";
import type { QueueMessage } from "../drivers/queue/driver.ts";
import type { TerminalSession } from "../contracts/process-services.ts";

export const MODULE_NAMES = ["http", "queue", "sql", "uuid", "logger", "time", "json", "funcs", "env", "events", "registry", "io"] as const;
export type ModuleName = (typeof MODULE_NAMES)[number];

/** The request as the HTTP kinds hand it to a handler. The body is already read (and limited). */
export interface HttpRequestData {
  method: string;
  path: string;
  url: URL;
  params: Record<string, string>;
  headers: globalThis.Headers;
  body: Uint8Array | undefined;
  remoteAddr: string;
  /** The server's `max_json_depth`, which `bodyJson()` enforces. */
  maxJsonDepth: number;
  /** The server already checked the body as JSON (UTF-8, depth): sent as JSON or schema-checked. */
  bodyCheckedAsJson: boolean;
  /** `url` unparsed, where the server has it so (copying a request to a Lua worker skips the parse). */
  readonly href?: string;
  /** The headers as received, names and values alternating, where the server has them so (cheaper to copy than `headers`). */
  readonly rawHeaders?: readonly string[];
}

/** What a handler wrote; the HTTP kinds turn it into the response once the handler returns. */
export interface HttpResponseData {
  status: number;
  headers: Record<string, string>;
  chunks: (string | Uint8Array)[];
  /** Anything set or written: the runtime adds nothing of its own. */
  handled: boolean;
}

export interface HttpExchange {
  request: HttpRequestData;
  response: HttpResponseData;
}

/** The message a consumer handler is processing; settlement is single-shot. */
export interface MessageScope {
  message: QueueMessage;
  /** `undefined` until the handler (or the runtime, after it returns) settles the message. */
  settled: "ack" | "nack" | undefined;
  ack(): Promise<void>;
  nack(): Promise<void>;
  /** Records how far the handler got, for operators; refused where the driver keeps no progress. */
  progress(value: unknown): Promise<void>;
}

/** The database transaction a call is inside (set by the sql module while `transaction(fn)` runs `fn`). */
export interface TransactionScope {
  /** Runs `task` once this transaction and every one enclosing it committed; never if one rolls back. */
  afterCommit(task: () => Promise<void>): void;
  /** Runs `task` if this transaction, or one enclosing it, rolls back (to free what a prepared publish reserved). */
  onRollback(task: () => void): void;
}

export interface CallContext {
  entryId: string;
  modules: ReadonlySet<string>;
  services: RuntimeServices;
  logger: Logger;
  http?: HttpExchange;
  message?: MessageScope;
  signal?: AbortSignal;
  transaction?: TransactionScope;
  /** Set for a process run on a terminal (`taskrt run -x`): what `io` reads and writes. */
  terminal?: TerminalSession;
}

// One slot per process even if the package is loaded twice (a handler importing "taskrt" through
// another path): the context must be the one the runtime set.
const SLOT_KEY = Symbol.for("taskrt.callContext");
const globalSlots = globalThis as unknown as Record<symbol, AsyncSlot<CallContext> | undefined>;
const slot: AsyncSlot<CallContext> = (globalSlots[SLOT_KEY] ??= new AsyncSlot<CallContext>());

export function runInContext<T>(context: CallContext, fn: () => T): T {
  return slot.run(context, fn);
}

/** The same call, inside `transaction`. */
export function withTransaction(context: CallContext, transaction: TransactionScope): CallContext {
  return new TransactionCallContext(context, transaction);
}

/** A class for the reason ScopedCallContext (handlers/call-context.ts) is one: a literal with a getter is slow to build. */
class TransactionCallContext implements CallContext {
  readonly entryId: string;
  readonly modules: ReadonlySet<string>;
  readonly services: RuntimeServices;
  readonly logger: Logger;
  readonly http: HttpExchange | undefined;
  readonly message: MessageScope | undefined;
  readonly transaction: TransactionScope;
  readonly #outer: CallContext;

  constructor(outer: CallContext, transaction: TransactionScope) {
    this.entryId = outer.entryId;
    this.modules = outer.modules;
    this.services = outer.services;
    this.logger = outer.logger;
    this.http = outer.http;
    this.message = outer.message;
    this.transaction = transaction;
    this.#outer = outer;
  }

  /** Read through, as the outer context reads it: created lazily by the caller, if at all. */
  get signal(): AbortSignal | undefined {
    return this.#outer.signal;
  }
}

export function currentContext(): CallContext | undefined {
  return slot.get();
}

/** The context of the running handler, after checking that its entry declared `module`. */
export function useModule(module: ModuleName): CallContext {
  const context = slot.get();
  if (!context) {
    throw new TaskrtError("E_NO_CONTEXT", `module '${module}' was called outside a handler`, {
      hint: "module functions work only while taskrt runs a handler (an endpoint, consumer, process or function)",
    });
  }
  if (!context.modules.has(module)) {
    throw new TaskrtError(
      "E_MODULE_NOT_DECLARED",
      `entry ${context.entryId} used module '${module}' but does not declare it`,
      { entryId: context.entryId, hint: `add '${module}' to the entry's modules: [${[...context.modules, module].join(", ")}]` },
    );
  }
  return context;
}
