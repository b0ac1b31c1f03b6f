/**
 * @module http/endpoint — the component of an `http.endpoint`: its route, the function it calls
 * (whose callable is fetched on the first request: function components load their code at start),
 * and its declared API, whose schemas are read and compiled once, when its server starts.
 */
import type { Callable, CallableComponent, CallResult } from "../handlers/handler.ts";
import { prepareEndpointApi, type EndpointApi, type EndpointApiDeclaration, type PreparedEndpointApi } from "./endpoint-api.ts";
import type { Logger } from "../logger.ts";
import type { Component } from "../contracts/component.ts";
import type { HttpExchange } from "../modules/context.ts";

const NO_ARGS: readonly unknown[] = Object.freeze([]);

export class HttpEndpoint implements Component {
  readonly entryId: string;
  /** Upper-case. */
  readonly method: string;
  /** As written, relative to the router's prefix. */
  readonly path: string;
  readonly funcId: string;
  readonly logger: Logger;
  readonly #function: CallableComponent;
  readonly #declaration: EndpointApiDeclaration;
  #callable: Callable | undefined;
  #prepared: PreparedEndpointApi | undefined;

  constructor(options: {
    entryId: string;
    method: string;
    path: string;
    funcId: string;
    function: CallableComponent;
    logger: Logger;
    api?: EndpointApiDeclaration;
  }) {
    this.entryId = options.entryId;
    this.method = options.method;
    this.path = options.path;
    this.funcId = options.funcId;
    this.#function = options.function;
    this.logger = options.logger;
    this.#declaration = options.api ?? {};
  }

  /** Reads and compiles the declared schemas, once; the server calls it in `start()`. Throws E_FILE or E_SCHEMA. */
  prepare(): PreparedEndpointApi {
    return (this.#prepared ??= prepareEndpointApi(this.#declaration, this.entryId));
  }

  /** The declared API with its schemas read; only after `prepare()`. */
  get api(): EndpointApi {
    return this.prepare().api;
  }

  /** Wippy calls endpoint functions with no arguments: request and response come from the `http` module. */
  call(exchange: HttpExchange, signal: AbortSignal): Promise<CallResult> {
    const callable = (this.#callable ??= this.#function.callable());
    return callable.call(NO_ARGS, { http: exchange, signal });
  }

  describe(): string {
    return `${this.method} ${this.path} → ${this.funcId}`;
  }
}
