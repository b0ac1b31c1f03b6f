/**
 * @module modules/http — the request an endpoint's handler is serving and the response it writes,
 * over the exchange the HTTP kinds put in the call context.
 */
import { TaskrtError, errorMessage } from "../errors.ts";
import { jsonBodyProblem } from "../http/json-body.ts";
import { useModule, type CallContext, type HttpExchange, type HttpRequestData, type HttpResponseData } from "./context.ts";

export interface HttpRequest {
  method(): string;
  path(): string;
  param(name: string): string | undefined;
  params(): Record<string, string>;
  /** The first value of a query parameter. */
  query(name: string): string | undefined;
  /** Every query parameter; repeated ones joined with ",". */
  queryParams(): Record<string, string>;
  /** Case-insensitive; repeated headers joined with ", ". */
  header(name: string): string | undefined;
  /** Lower-case names. */
  headers(): Record<string, string>;
  contentType(): string | undefined;
  /** `ip:port` of the client. */
  remoteAddr(): string;
  hasBody(): boolean;
  /** The body as UTF-8 text; "" when there is none. */
  body(): Promise<string>;
  bodyJson<T = unknown>(): Promise<T>;
}

export interface HttpResponse {
  setStatus(code: number): this;
  setHeader(name: string, value: string | number): this;
  setContentType(type: string): this;
  write(chunk: string | Uint8Array): this;
  /** Sets Content-Type to application/json unless one is set. */
  writeJson(value: unknown): this;
}

export const STATUS = Object.freeze({
  OK: 200,
  CREATED: 201,
  ACCEPTED: 202,
  NO_CONTENT: 204,
  PARTIAL_CONTENT: 206,
  MOVED_PERMANENTLY: 301,
  FOUND: 302,
  SEE_OTHER: 303,
  NOT_MODIFIED: 304,
  TEMPORARY_REDIRECT: 307,
  PERMANENT_REDIRECT: 308,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  PAYMENT_REQUIRED: 402,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  CONFLICT: 409,
  GONE: 410,
  UNPROCESSABLE: 422,
  TOO_MANY_REQUESTS: 429,
  INTERNAL_ERROR: 500,
  INTERNAL_SERVER_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  GATEWAY_TIMEOUT: 504,
  VERSION_NOT_SUPPORTED: 505,
});

export const CONTENT = Object.freeze({
  JSON: "application/json",
  FORM: "application/x-www-form-urlencoded",
  MULTIPART: "multipart/form-data",
  TEXT: "text/plain",
  STREAM: "application/octet-stream",
});

export const METHOD = Object.freeze({
  GET: "GET",
  POST: "POST",
  PUT: "PUT",
  DELETE: "DELETE",
  PATCH: "PATCH",
  HEAD: "HEAD",
  OPTIONS: "OPTIONS",
});

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FORBIDDEN_IN_HEADER_VALUE = /[\r\n\0]/;
const decoder = new TextDecoder();

// The views are cached on the exchange: a handler calling http.request() twice gets one object.
const REQUEST_VIEW = Symbol("taskrt.httpRequest");
const RESPONSE_VIEW = Symbol("taskrt.httpResponse");
type ExchangeWithViews = HttpExchange & { [REQUEST_VIEW]?: RequestView; [RESPONSE_VIEW]?: ResponseView };

class RequestView implements HttpRequest {
  readonly #data: HttpRequestData;
  readonly #entryId: string;
  #text: string | undefined;

  constructor(data: HttpRequestData, entryId: string) {
    this.#data = data;
    this.#entryId = entryId;
  }

  method(): string {
    return this.#data.method;
  }
  path(): string {
    return this.#data.path;
  }
  param(name: string): string | undefined {
    return this.#data.params[name];
  }
  params(): Record<string, string> {
    return { ...this.#data.params };
  }
  query(name: string): string | undefined {
    return this.#data.url.searchParams.get(name) ?? undefined;
  }
  queryParams(): Record<string, string> {
    const result: Record<string, string> = {};
    for (const [name, value] of this.#data.url.searchParams) {
      result[name] = name in result ? `${result[name]},${value}` : value;
    }
    return result;
  }
  header(name: string): string | undefined {
    return this.#data.headers.get(name) ?? undefined;
  }
  headers(): Record<string, string> {
    const result: Record<string, string> = {};
    for (const [name, value] of this.#data.headers) result[name] = value;
    return result;
  }
  contentType(): string | undefined {
    return this.header("content-type");
  }
  remoteAddr(): string {
    return this.#data.remoteAddr;
  }
  hasBody(): boolean {
    return this.#data.body !== undefined && this.#data.body.byteLength > 0;
  }
  async body(): Promise<string> {
    return this.#bodyText() ?? "";
  }
  async bodyJson<T = unknown>(): Promise<T> {
    const text = this.#bodyText();
    if (text === undefined) {
      throw new TaskrtError("E_NO_BODY", "request has no body", {
        entryId: this.#entryId,
        hint: "check request.hasBody() before reading it, or send a JSON body",
      });
    }
    // A body the server did not check as JSON (not sent as JSON) is checked here, before parsing.
    const data = this.#data;
    if (!data.bodyCheckedAsJson) {
      const problem = jsonBodyProblem(data.body!, data.maxJsonDepth);
      if (problem !== undefined) throw new TaskrtError("E_INVALID_BODY", problem, { entryId: this.#entryId });
    }
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new TaskrtError("E_INVALID_JSON", `request body is not valid JSON: ${errorMessage(error)}`, { entryId: this.#entryId, cause: error });
    }
  }

  #bodyText(): string | undefined {
    if (this.#text !== undefined) return this.#text;
    const body = this.#data.body;
    if (body === undefined || body.byteLength === 0) return undefined;
    this.#text = Buffer.isBuffer(body) ? body.toString("utf8") : decoder.decode(body);
    return this.#text;
  }
}

class ResponseView implements HttpResponse {
  readonly #data: HttpResponseData;
  readonly #entryId: string;

  constructor(data: HttpResponseData, entryId: string) {
    this.#data = data;
    this.#entryId = entryId;
  }

  setStatus(code: number): this {
    if (!Number.isInteger(code) || code < 100 || code > 599) {
      throw new TaskrtError("E_INVALID_STATUS", `invalid HTTP status ${JSON.stringify(code)}: expected an integer from 100 to 599`, {
        entryId: this.#entryId,
        hint: "use a constant from http.STATUS",
      });
    }
    this.#data.status = code;
    this.#data.handled = true;
    return this;
  }

  setHeader(name: string, value: string | number): this {
    if (typeof name !== "string" || !HEADER_NAME.test(name)) {
      throw new TaskrtError("E_INVALID_HEADER", `invalid header name ${JSON.stringify(name)}`, {
        entryId: this.#entryId,
        hint: "header names are letters, digits and !#$%&'*+-.^_`|~",
      });
    }
    const text = String(value);
    if (FORBIDDEN_IN_HEADER_VALUE.test(text)) {
      throw new TaskrtError("E_INVALID_HEADER", `invalid value for header ${name}: it contains a line break or NUL`, { entryId: this.#entryId });
    }
    // Lower-case names, so a later "Content-Type" replaces an earlier "content-type".
    this.#data.headers[name.toLowerCase()] = text;
    this.#data.handled = true;
    return this;
  }

  setContentType(type: string): this {
    return this.setHeader("content-type", type);
  }

  write(chunk: string | Uint8Array): this {
    if (typeof chunk !== "string" && !(chunk instanceof Uint8Array)) {
      if (typeof chunk !== "number" && typeof chunk !== "boolean") {
        throw new TaskrtError("E_INVALID_BODY", `response.write expects a string or bytes, got ${chunk === null ? "null" : typeof chunk}`, {
          entryId: this.#entryId,
          hint: "use writeJson(value) to send an object",
        });
      }
      chunk = String(chunk);
    }
    this.#data.chunks.push(chunk);
    this.#data.handled = true;
    return this;
  }

  writeJson(value: unknown): this {
    let text: string | undefined;
    try {
      text = JSON.stringify(value === undefined ? null : value);
    } catch (error) {
      throw new TaskrtError("E_JSON_ENCODE", `cannot encode the response as JSON: ${errorMessage(error)}`, { entryId: this.#entryId, cause: error });
    }
    // A function or symbol stringifies to undefined: send null, as for undefined itself.
    if (this.#data.headers["content-type"] === undefined) this.#data.headers["content-type"] = CONTENT.JSON;
    this.#data.chunks.push(text ?? "null");
    this.#data.handled = true;
    return this;
  }
}

function exchangeFor(context: CallContext, accessor: "request" | "response"): ExchangeWithViews {
  if (context.http) return context.http as ExchangeWithViews;
  throw new TaskrtError("E_NO_HTTP_CONTEXT", `no HTTP request: http.${accessor}() works only inside an http.endpoint's handler`, {
    entryId: context.entryId,
    hint: `${context.entryId} was not called by an http.endpoint`,
  });
}

export const http = {
  request(): HttpRequest {
    const context = useModule("http");
    const exchange = exchangeFor(context, "request");
    return (exchange[REQUEST_VIEW] ??= new RequestView(exchange.request, context.entryId));
  },
  response(): HttpResponse {
    const context = useModule("http");
    const exchange = exchangeFor(context, "response");
    return (exchange[RESPONSE_VIEW] ??= new ResponseView(exchange.response, context.entryId));
  },
  STATUS,
  CONTENT,
  METHOD,
};
