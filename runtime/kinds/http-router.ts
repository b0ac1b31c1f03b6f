/**
 * @module kinds/http-router — `http.router`: a path prefix on a server that endpoints attach to.
 */
import { TaskrtError } from "../errors.ts";
import { resolveId } from "../registry/entry.ts";
import { defineKind } from "../contracts/kind-definition.ts";
import { HttpRouter } from "../http/router.ts";
import { HttpServer } from "../http/server.ts";

export default defineKind({
  kind: "http.router",
  summary: "Groups endpoints under a path prefix on an http.service.",
  references: [{ path: ["meta", "server"], kinds: ["http.service"] }],
  service: false,
  create(entry, context) {
    const serverId = resolveId(entry.meta.server as string, entry.namespace);
    const server = context.component(serverId);
    if (!(server instanceof HttpServer)) {
      throw new TaskrtError("E_REF_KIND", `${entry.id}: meta.server ${serverId} is not an http.service`, {
        entryId: entry.id,
        location: entry.locate(["meta", "server"]),
        hint: "point meta.server at an http.service entry",
      });
    }
    const middleware = entry.data.middleware;
    if (Array.isArray(middleware) && middleware.length > 0) {
      // Accepted so Wippy registries load, but a silently skipped `cors` or `token_auth` would be a trap.
      context.logger.forEntry(entry.id).warn(`middleware is not supported yet and is ignored: ${middleware.join(", ")}`);
    }
    const router = new HttpRouter(entry.id, entry.data.prefix as string);
    server.attachRouter(router);
    return router;
  },
});
