/**
 * @module handlers/lua/workers/request-snapshot — an endpoint call's request on its way to a Lua
 * worker: copied on the main thread as cheaply as it can be posted (headers as received, the URL
 * unparsed), and rebuilt in the worker with `Headers` and `URL` made only if the handler asks.
 */
import type { HttpExchange, HttpRequestData } from "../../../modules/context.ts";
import type { HttpSnapshot } from "./protocol.ts";

/** The request and the response so far, for a worker to run the `http` module on. */
export function snapshotOf(exchange: HttpExchange): HttpSnapshot {
  const { request, response } = exchange;
  return {
    method: request.method,
    path: request.path,
    url: request.href ?? request.url.href,
    params: request.params,
    headers: request.rawHeaders ?? headerList(request.headers),
    body: request.body && exactCopy(request.body),
    remoteAddr: request.remoteAddr,
    maxJsonDepth: request.maxJsonDepth,
    bodyCheckedAsJson: request.bodyCheckedAsJson,
    response,
  };
}

/** The exchange a worker's `http` module sees: the snapshot's request, and its response to write. */
export function exchangeFromSnapshot(snapshot: HttpSnapshot): HttpExchange {
  return { request: new SnapshotRequest(snapshot), response: snapshot.response };
}

class SnapshotRequest implements HttpRequestData {
  readonly method: string;
  readonly path: string;
  readonly href: string;
  readonly params: Record<string, string>;
  readonly rawHeaders: readonly string[];
  readonly body: Uint8Array | undefined;
  readonly remoteAddr: string;
  readonly maxJsonDepth: number;
  readonly bodyCheckedAsJson: boolean;
  #url: URL | undefined;
  #headers: Headers | undefined;

  constructor(snapshot: HttpSnapshot) {
    this.method = snapshot.method;
    this.path = snapshot.path;
    this.href = snapshot.url;
    this.params = snapshot.params;
    this.rawHeaders = snapshot.headers;
    this.body = snapshot.body;
    this.remoteAddr = snapshot.remoteAddr;
    this.maxJsonDepth = snapshot.maxJsonDepth;
    this.bodyCheckedAsJson = snapshot.bodyCheckedAsJson;
  }

  get url(): URL {
    return (this.#url ??= new URL(this.href));
  }

  get headers(): Headers {
    if (!this.#headers) {
      const headers = new Headers();
      const list = this.rawHeaders;
      // HTTP/2 pseudo-headers (":path") are not headers: the server's own Headers skip them too.
      for (let index = 0; index < list.length; index += 2) if (!list[index].startsWith(":")) headers.append(list[index], list[index + 1]);
      this.#headers = headers;
    }
    return this.#headers;
  }
}

function headerList(headers: Headers): string[] {
  const list: string[] = [];
  for (const [name, value] of headers) list.push(name, value);
  return list;
}

/**
 * The bytes alone: a body is often a view into a larger pooled buffer, and posting a view copies
 * the whole buffer under it.
 */
function exactCopy(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : Uint8Array.prototype.slice.call(bytes);
}
