/**
 * @module http/body — reads a request body fully, refusing it as soon as it passes the server's
 * `max_body` (by its Content-Length first, then by counting what actually arrives).
 */
import type { IncomingMessage } from "node:http";
import { TaskrtError } from "../errors.ts";

export const BODY_TOO_LARGE: unique symbol = Symbol("taskrt.bodyTooLarge");
export type BodyResult = Buffer | undefined | typeof BODY_TOO_LARGE;

/**
 * `undefined` when the request carries no body (no Content-Length and no Transfer-Encoding, or a
 * zero length); answers synchronously when the headers already settle it.
 */
export function readBody(incoming: IncomingMessage, limit: number): BodyResult | Promise<BodyResult> {
  const declared = incoming.headers["content-length"];
  if (declared !== undefined) {
    // Node's parser has already rejected a malformed Content-Length.
    const length = Number(declared);
    if (length > limit) return BODY_TOO_LARGE;
    if (length === 0) return undefined;
  } else if (incoming.headers["transfer-encoding"] === undefined) {
    return undefined;
  }
  if (incoming.readableEnded) return undefined;
  // Listeners are anonymous and never removed: the request object goes away with them, and a
  // named closure per request would cost a `__name` call each under tsx. Without an "error"
  // listener Node reports an aborted request through "close" alone.
  return new Promise<BodyResult>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    incoming.on("data", (chunk: Buffer) => {
      if (settled) return;
      received += chunk.length;
      if (received > limit) {
        // A chunked body gave no length up front; stop collecting and let the 413 close the connection.
        settled = true;
        chunks.length = 0;
        resolve(BODY_TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    });
    incoming.on("end", () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received));
    });
    incoming.on("close", () => {
      if (settled) return;
      settled = true;
      reject(new TaskrtError("E_BODY_READ", "request body could not be read: the connection closed before the whole body arrived"));
    });
  });
}
