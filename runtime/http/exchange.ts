/**
 * @module http/exchange — turns a Hono request into the `HttpExchange` a handler sees, and what the
 * handler wrote back into a Response; everything not needed by most handlers is computed lazily.
 */
import type { Context } from "hono";
import type { HttpBindings } from "@hono/node-server";
import type { HttpRequestData, HttpResponseData } from "../modules/context.ts";

export type ServerEnv = { Bindings: HttpBindings };

/** The request, reading URL, params, headers and peer address only when a handler asks. */
class HonoRequestData implements HttpRequestData {
  readonly method: string;
  readonly body: Uint8Array | undefined;
  readonly maxJsonDepth: number;
  readonly bodyCheckedAsJson: boolean;
  readonly #context: Context<ServerEnv>;
  #url: URL | undefined;
  #params: Record<string, string> | undefined;

  constructor(context: Context<ServerEnv>, body: Uint8Array | undefined, maxJsonDepth: number, bodyCheckedAsJson: boolean) {
    this.#context = context;
    this.method = context.req.method;
    this.body = body;
    this.maxJsonDepth = maxJsonDepth;
    this.bodyCheckedAsJson = bodyCheckedAsJson;
  }

  get path(): string {
    return this.#context.req.path;
  }

  get url(): URL {
    return (this.#url ??= new URL(this.#context.req.url));
  }

  get params(): Record<string, string> {
    return (this.#params ??= this.#context.req.param() as Record<string, string>);
  }

  get headers(): globalThis.Headers {
    return this.#context.req.raw.headers;
  }

  get href(): string {
    return this.#context.req.url;
  }

  get rawHeaders(): readonly string[] {
    return this.#context.env.incoming.rawHeaders;
  }

  get remoteAddr(): string {
    const socket = this.#context.env.incoming.socket;
    const host = socket.remoteAddress ?? "";
    return `${host.includes(":") ? `[${host}]` : host}:${socket.remotePort ?? 0}`;
  }
}

export function createRequestData(context: Context<ServerEnv>, body: Uint8Array | undefined, maxJsonDepth: number, bodyCheckedAsJson: boolean): HttpRequestData {
  return new HonoRequestData(context, body, maxJsonDepth, bodyCheckedAsJson);
}

export function createResponseData(): HttpResponseData {
  return { status: 200, headers: {}, chunks: [], handled: false };
}

const TEXT_CONTENT_TYPE = "text/plain; charset=utf-8";

function joinChunks(chunks: readonly (string | Uint8Array)[]): string | Uint8Array | null {
  if (chunks.length === 0) return null;
  if (chunks.length === 1) return chunks[0];
  if (chunks.every((chunk) => typeof chunk === "string")) return chunks.join("");
  return Buffer.concat(chunks.map((chunk) => (typeof chunk === "string" ? Buffer.from(chunk) : chunk)));
}

/**
 * The handler's response as written. Header names are lower-case (the `http` module writes them so),
 * and the headers object is handed to Node as is: no copy per request.
 */
export function toResponse(data: HttpResponseData, closeConnection: boolean): Response {
  const headers = data.headers;
  const status = data.status;
  // 204 and 304 cannot carry a body; Node would drop it anyway, but quietly.
  const body = status === 204 || status === 304 ? null : joinChunks(data.chunks);
  if (body !== null && headers["content-type"] === undefined) headers["content-type"] = TEXT_CONTENT_TYPE;
  if (closeConnection) headers.connection = "close";
  // A Uint8Array over any ArrayBuffer is a valid body; the DOM typings only admit `ArrayBuffer`.
  return new Response(body as BodyInit | null, { status, headers });
}

/** `{"error": message}` with a JSON content type: every response the runtime itself writes. */
export function jsonError(status: number, message: string, extraHeaders?: Record<string, string>): Response {
  return jsonResponse(status, { error: message }, extraHeaders);
}

/** Any value as a JSON response (a 400 with `details`, the OpenAPI document). */
export function jsonResponse(status: number, value: unknown, extraHeaders?: Record<string, string>): Response {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (extraHeaders) Object.assign(headers, extraHeaders);
  return new Response(JSON.stringify(value), { status, headers });
}
