/**
 * @module http/router — the component of an `http.router`: a path prefix and the endpoints that
 * registered with it, in creation order; its server reads them when it starts.
 */
import type { Component } from "../kinds/kind.ts";
import type { HttpEndpoint } from "./endpoint.ts";

export class HttpRouter implements Component {
  readonly entryId: string;
  readonly prefix: string;
  readonly #endpoints: HttpEndpoint[] = [];

  constructor(entryId: string, prefix: string) {
    this.entryId = entryId;
    this.prefix = prefix;
  }

  addEndpoint(endpoint: HttpEndpoint): void {
    this.#endpoints.push(endpoint);
  }

  get endpoints(): readonly HttpEndpoint[] {
    return this.#endpoints;
  }

  describe(): string {
    return `${this.#endpoints.length} endpoint${this.#endpoints.length === 1 ? "" : "s"} under ${this.prefix || "/"}`;
  }
}
