/**
 * @module http/request-validation — checks one request against its endpoint's declared query and
 * body schemas before the function runs, and words the 400 that names what was wrong.
 *
 * Built only for endpoints that declare a schema: the others never reach this module.
 */
import type { ValidateFunction } from "ajv";
import { jsonResponse } from "./exchange.ts";
import { bodyDetails, queryDetails } from "./request-schema.ts";

export const INVALID_JSON = "invalid JSON";
export const INVALID_BODY = "invalid request body";
export const INVALID_QUERY = "invalid query parameters";

export class RequestValidation {
  readonly #body: ValidateFunction | undefined;
  readonly #query: ValidateFunction | undefined;

  constructor(validators: { body?: ValidateFunction; query?: ValidateFunction }) {
    this.#body = validators.body;
    this.#query = validators.query;
  }

  /** Whether `check` parses the body as JSON (a body schema is declared). */
  get parsesBody(): boolean {
    return this.#body !== undefined;
  }

  /**
   * The 400 to answer instead of calling the function, or `undefined` when the request passes.
   * `target` is the request line's target (`/tasks?limit=10`); `body` the bytes read (undefined: none was sent).
   */
  check(target: string, body: Uint8Array | undefined, closing: boolean): Response | undefined {
    const query = this.#query;
    if (query !== undefined && !query(queryParameters(target))) {
      return refuse({ error: INVALID_QUERY, details: queryDetails(query.errors ?? []) }, closing);
    }
    const validateBody = this.#body;
    if (validateBody === undefined) return undefined;
    // No body is no JSON: declaring a body schema makes the body required.
    if (body === undefined) return refuse({ error: INVALID_JSON }, closing);
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"));
    } catch {
      return refuse({ error: INVALID_JSON }, closing);
    }
    if (validateBody(value)) return undefined;
    return refuse({ error: INVALID_BODY, details: bodyDetails(validateBody.errors ?? []) }, closing);
  }
}

/** Each parameter once: a string, or the list of its values when it is repeated (`?tag=a&tag=b`). */
function queryParameters(target: string): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  const mark = target.indexOf("?");
  if (mark < 0) return result;
  for (const [name, value] of new URLSearchParams(target.slice(mark + 1))) {
    const previous = result[name];
    if (previous === undefined) result[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else result[name] = [previous, value];
  }
  return result;
}

function refuse(body: object, closing: boolean): Response {
  return jsonResponse(400, body, closing ? { connection: "close" } : undefined);
}
