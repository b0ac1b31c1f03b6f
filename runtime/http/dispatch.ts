/**
 * @module http/dispatch — serves one endpoint's requests: reads the body within the limit, checks it
 * against the declared schemas (if any), calls the function with the exchange, and turns what it
 * wrote (or how it failed) into the response.
 *
 * The route handler is a plain function returning a promise it settles itself, so the write
 * timeout can answer a request without a second promise racing the call: under the
 * AsyncLocalStorage that carries call contexts, every promise on this path has a measurable cost.
 */
import type { Context } from "hono";
import { formatDuration } from "../duration.ts";
import { errorMessage } from "../errors.ts";
import type { CallResult } from "../handlers/handler.ts";
import type { HttpExchange } from "../modules/context.ts";
import { BODY_TOO_LARGE, readBody, type BodyResult } from "./body.ts";
import type { HttpEndpoint } from "./endpoint.ts";
import { createRequestData, createResponseData, jsonError, toResponse, type ServerEnv } from "./exchange.ts";
import { declaresJson, jsonBodyProblem } from "./json-body.ts";
import { InFlightRequest, type InFlightRequests } from "./in-flight.ts";

/** What every endpoint of one running server shares; a new one per `start()`. */
export interface ServeState {
  readonly maxBody: number;
  readonly maxJsonDepth: number;
  readonly writeTimeout: number;
  readonly inFlight: InFlightRequests;
  /** Aborted when a stop gives up waiting for in-flight handlers. */
  readonly signal: AbortSignal;
  /** Set by `stop()`: responses ask the client to close the connection. */
  closing: boolean;
}

export type RouteHandler = (context: Context<ServerEnv>) => Response | Promise<Response>;

/** One request from acceptance to its answer, which comes from the handler or from the write timeout. */
class PendingRequest extends InFlightRequest {
  readonly context: Context<ServerEnv>;
  readonly endpoint: HttpEndpoint;
  readonly state: ServeState;
  /** Set once the handler is running. */
  resolve: ((response: Response) => void) | undefined = undefined;
  answered = false;

  constructor(context: Context<ServerEnv>, endpoint: HttpEndpoint, state: ServeState) {
    super();
    this.context = context;
    this.endpoint = endpoint;
    this.state = state;
  }

  /** The handler returned (or failed): answer with what it wrote, unless the timeout already did. */
  complete(exchange: HttpExchange, outcome: CallResult): void {
    this.state.inFlight.delete(this);
    if (this.answered) return;
    this.answered = true;
    let response: Response;
    try {
      response = respond(this.endpoint, exchange, outcome, this.state.closing);
    } catch (error) {
      this.endpoint.logger.error(`cannot build the response of ${this.endpoint.funcId}: ${errorMessage(error)}`, { error });
      response = jsonError(500, "internal error");
    }
    this.resolve!(response);
  }

  /** Past the write timeout: 503 now; the handler keeps running and its late answer is dropped. */
  expire(): void {
    if (!this.resolve || this.answered) return;
    this.answered = true;
    this.state.inFlight.delete(this);
    this.endpoint.logger.warn(
      `${this.endpoint.funcId} did not finish within the write timeout (${formatDuration(this.state.writeTimeout)}); answered 503`,
      { method: this.context.req.method, path: this.context.req.path },
    );
    this.resolve(jsonError(503, "response not ready within the write timeout", this.state.closing ? { connection: "close" } : undefined));
  }
}

export function createEndpointHandler(endpoint: HttpEndpoint, state: ServeState): RouteHandler {
  const tooLargeMessage = `request body too large (limit ${state.maxBody} bytes)`;

  const serve = (pending: PendingRequest, body: BodyResult, jsonChecked: boolean): Response | Promise<Response> => {
    // The rest of an oversized body is never read, so the connection cannot be reused.
    if (body === BODY_TOO_LARGE) {
      state.inFlight.delete(pending);
      return jsonError(413, tooLargeMessage, { connection: "close" });
    }
    const request = createRequestData(pending.context, body, state.maxJsonDepth, jsonChecked);
    const exchange: HttpExchange = { request, response: createResponseData() };
    let call: Promise<CallResult>;
    try {
      call = endpoint.call(exchange, state.signal);
    } catch (error) {
      // `callable()` refused: the function did not start.
      call = Promise.resolve(failure(error));
    }
    return new Promise<Response>((resolve) => {
      pending.resolve = resolve;
      call.then(
        (outcome) => pending.complete(exchange, outcome),
        (error: unknown) => pending.complete(exchange, failure(error)),
      );
    });
  };

  const unreadable = (pending: PendingRequest, error: unknown): Response => {
    state.inFlight.delete(pending);
    endpoint.logger.debug(errorMessage(error), { method: pending.context.req.method, path: pending.context.req.path });
    return jsonError(400, "request body could not be read", { connection: "close" });
  };

  // Chosen once here: an endpoint that declares no schema runs exactly the path above.
  const validation = endpoint.prepare().validation;
  const validated =
    validation === undefined
      ? serve
      : (pending: PendingRequest, body: BodyResult, jsonChecked: boolean): Response | Promise<Response> => {
          if (body !== BODY_TOO_LARGE) {
            const refusal = validation.check(pending.context.env.incoming.url ?? "", body, state.closing);
            if (refusal !== undefined) {
              state.inFlight.delete(pending);
              return refusal;
            }
          }
          return serve(pending, body, jsonChecked);
        };

  // A body sent as JSON, or one the endpoint's schema will parse, is checked before anything
  // parses it; other bodies (text, binary) reach the handler as sent.
  const schemaParsesBody = validation?.parsesBody === true;
  const admit = (pending: PendingRequest, body: BodyResult): Response | Promise<Response> => {
    if (body === undefined || body === BODY_TOO_LARGE) return validated(pending, body, false);
    if (!schemaParsesBody && !declaresJson(pending.context.env.incoming.headers["content-type"])) return validated(pending, body, false);
    const problem = jsonBodyProblem(body, state.maxJsonDepth);
    if (problem === undefined) return validated(pending, body, true);
    state.inFlight.delete(pending);
    return jsonError(400, problem, state.closing ? { connection: "close" } : undefined);
  };

  return (context) => {
    const pending = new PendingRequest(context, endpoint, state);
    state.inFlight.add(pending);
    const body = readBody(context.env.incoming, state.maxBody);
    if (body instanceof Promise) return body.then((read) => admit(pending, read), (error: unknown) => unreadable(pending, error));
    return admit(pending, body);
  };
}

function failure(error: unknown): CallResult {
  return { value: undefined, error: error instanceof Error ? error : new Error(String(error)) };
}

function respond(endpoint: HttpEndpoint, exchange: HttpExchange, outcome: CallResult, closing: boolean): Response {
  const response = exchange.response;
  if (outcome.error) {
    // The details go to the log, never to the client: they may hold SQL, paths or stack frames.
    endpoint.logger.error(`${endpoint.funcId} failed: ${outcome.error.message}`, {
      method: exchange.request.method,
      path: exchange.request.path,
      error: outcome.error,
    });
    // As in Wippy, a handler that already wrote a body keeps its response; a status or header
    // alone is not an answer, and sending it would turn the failure into an empty success.
    if (response.chunks.length === 0) return jsonError(500, "internal error");
  } else if (!response.handled) {
    endpoint.logger.error(`${endpoint.funcId} returned without writing a response`, {
      method: exchange.request.method,
      path: exchange.request.path,
    });
    return jsonError(500, "no response sent");
  }
  return toResponse(response, closing);
}
