/**
 * @module kinds/http-openapi — `http.openapi`: serves, on a router, the OpenAPI 3.1 document of
 * every `http.endpoint` on that router's server, generated once each time the server starts.
 */
import { checkRouteConflict } from "../http/checks.ts";
import type { RouteHandler } from "../http/dispatch.ts";
import { OPENAPI_VERSION, buildOpenApiDocument, type OpenApiInfo } from "../http/openapi.ts";
import { routerOf, type BuiltinRoute, type HttpRouter } from "../http/router.ts";
import type { Component } from "../contracts/component.ts";
import { defineKind } from "../contracts/kind-definition.ts";

/** The route serving the document; also the entry's component. */
export class OpenApiRoute implements BuiltinRoute, Component {
  readonly entryId: string;
  readonly method = "GET";
  readonly path: string;
  readonly #info: OpenApiInfo;
  #operations: number | undefined;

  constructor(entryId: string, path: string, info: OpenApiInfo) {
    this.entryId = entryId;
    this.path = path;
    this.#info = info;
  }

  createHandler(routers: readonly HttpRouter[]): RouteHandler {
    const document = buildOpenApiDocument(this.#info, routers);
    this.#operations = routers.reduce((count, router) => count + router.endpoints.length, 0);
    // Serialised once: every request gets the same bytes.
    const text = JSON.stringify(document);
    return () => new Response(text, { status: 200, headers: { "content-type": "application/json" } });
  }

  describe(): string {
    const documented = this.#operations === undefined ? "" : ` of ${this.#operations} endpoint${this.#operations === 1 ? "" : "s"}`;
    return `GET ${this.path}: OpenAPI ${OPENAPI_VERSION} document${documented}`;
  }
}

export default defineKind({
  kind: "http.openapi",
  summary: "Serves the OpenAPI 3.1 document of the http.endpoint entries on its router's server.",
  references: [{ path: ["meta", "router"], kinds: ["http.router"] }],
  service: false,
  check: checkRouteConflict,
  create(entry, context) {
    const router = routerOf(entry, context);
    const route = new OpenApiRoute(entry.id, entry.data.path as string, {
      title: entry.data.title as string,
      version: entry.data.version as string,
      description: entry.data.description as string | undefined,
      servers: entry.data.servers as OpenApiInfo["servers"],
    });
    router.addBuiltinRoute(route);
    return route;
  },
});
