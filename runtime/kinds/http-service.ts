/**
 * @module kinds/http-service — `http.service`: an HTTP server on an address, serving the routes of
 * the routers attached to it.
 */
import { defineKind } from "../contracts/kind-definition.ts";
import { checkAddrConflict } from "../http/checks.ts";
import { HttpServer } from "../http/server.ts";

export default defineKind({
  kind: "http.service",
  summary: "An HTTP server listening on an address; routers attach to it.",
  references: [],
  service: true,
  check: checkAddrConflict,
  create(entry, context) {
    return new HttpServer(entry, context.logger.forEntry(entry.id), context.instruments);
  },
});
