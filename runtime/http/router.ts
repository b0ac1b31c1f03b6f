/**
 * @module http/router — the component of an `http.router`: a path prefix, the endpoints that
 * registered with it and the routes the runtime serves itself there (an OpenAPI document), in
 * creation order; its server reads them when it starts.
 */
import { TaskrtError } from "../errors.ts";
import type { Component } from "../contracts/component.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import { resolveId, type Entry } from "../registry/entry.ts";
import type { RouteHandler } from "./dispatch.ts";
import type { HttpEndpoint } from "./endpoint.ts";

/** A route served by the runtime rather than by a function; its handler is built when the server starts. */
export interface BuiltinRoute {
  readonly entryId: string;
  /** Upper-case. */
  readonly method: string;
  /** Relative to the router's prefix. */
  readonly path: string;
  /** Called once per server start, after every endpoint of the server has prepared its API. */
  createHandler(routers: readonly HttpRouter[]): RouteHandler;
}

export class HttpRouter implements Component {
  readonly entryId: string;
  readonly prefix: string;
  readonly #endpoints: HttpEndpoint[] = [];
  readonly #builtins: BuiltinRoute[] = [];

  constructor(entryId: string, prefix: string) {
    this.entryId = entryId;
    this.prefix = prefix;
  }

  addEndpoint(endpoint: HttpEndpoint): void {
    this.#endpoints.push(endpoint);
  }

  addBuiltinRoute(route: BuiltinRoute): void {
    this.#builtins.push(route);
  }

  get endpoints(): readonly HttpEndpoint[] {
    return this.#endpoints;
  }

  get builtinRoutes(): readonly BuiltinRoute[] {
    return this.#builtins;
  }

  describe(): string {
    return `${this.#endpoints.length} endpoint${this.#endpoints.length === 1 ? "" : "s"} under ${this.prefix || "/"}`;
  }
}

/** The router an entry serves its routes on, named by its `meta.router` (endpoints, OpenAPI, metrics, health, dashboard). */
export function routerOf(entry: Entry, context: BuildContext): HttpRouter {
  const routerId = resolveId(entry.meta.router as string, entry.namespace);
  const router = context.component(routerId);
  if (!(router instanceof HttpRouter)) {
    throw new TaskrtError("E_REF_KIND", `${entry.id}: meta.router ${routerId} is not an http.router`, {
      entryId: entry.id,
      location: entry.locate(["meta", "router"]),
      hint: "point meta.router at an http.router entry",
    });
  }
  return router;
}
