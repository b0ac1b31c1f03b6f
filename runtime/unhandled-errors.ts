/**
 * @module unhandled-errors — keeps the process serving when handler code leaks an error: a promise
 * it rejected and never awaited, or a throw inside a timer it scheduled. Node would exit; instead
 * each one is logged as an error naming the entry (and the HTTP request or queue message) whose
 * call started it, with its stack, and counted in `taskrt_unhandled_errors_total`.
 *
 * The handlers are process-wide: installed while at least one runtime runs (each supervisor
 * registers on start and releases on stop), so a process without a running runtime keeps Node's
 * own behaviour. The call context (an async slot) follows the leaked promise or timer, which
 * names the entry and the runtime it belongs to; with no context, it is "unknown entry".
 */
import { asError } from "./handlers/call-context.ts";
import type { RuntimeServices } from "./contracts/runtime-services.ts";
import type { LogFields, Logger } from "./logger.ts";
import type { Instruments } from "./metrics/instruments.ts";
import { currentContext, type CallContext } from "./modules/context.ts";

/** A running runtime: where its errors are logged and counted. */
export interface UnhandledErrorOwner {
  /** Identifies the runtime a call context belongs to. */
  services: RuntimeServices;
  logger: Logger;
  instruments: Instruments;
}

const owners: UnhandledErrorOwner[] = [];

const onRejection = (reason: unknown) => report("unhandled rejection", reason);
const onException = (error: unknown) => report("uncaught exception", error);

/** Routes leaked errors to `owner` while it runs; returns the release, safe to call twice. */
export function guardUnhandledErrors(owner: UnhandledErrorOwner): () => void {
  if (owners.length === 0) {
    process.on("unhandledRejection", onRejection);
    process.on("uncaughtException", onException);
  }
  owners.push(owner);
  return () => {
    const index = owners.indexOf(owner);
    if (index < 0) return;
    owners.splice(index, 1);
    if (owners.length === 0) {
      process.off("unhandledRejection", onRejection);
      process.off("uncaughtException", onException);
    }
  };
}

function report(origin: string, thrown: unknown): void {
  const error = asError(thrown);
  const context = currentContext();
  // The latest runtime wins when none claims the context (after a reload, the old one is stopping).
  const owner = (context && [...owners].reverse().find((candidate) => candidate.services === context.services)) ?? owners.at(-1);
  if (!owner) return;
  const fields: LogFields = { origin, ...callFields(context), error };
  if (context) {
    context.logger.error(`${origin} in ${context.entryId}: ${error.message}`, fields);
  } else {
    owner.logger.error(`${origin} in unknown entry (no handler call was running): ${error.message}`, fields);
  }
  owner.instruments.unhandledError(context?.entryId ?? "unknown");
}

/** What the leaking call was serving, when known. */
function callFields(context: CallContext | undefined): LogFields {
  if (!context) return {};
  if (context.http) return { request: `${context.http.request.method} ${context.http.request.path}` };
  if (context.message) return { message: context.message.message.id };
  return {};
}
