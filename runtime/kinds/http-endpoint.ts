/**
 * @module kinds/http-endpoint — `http.endpoint`: one method and path on a router, served by a
 * function, with the request and response schemas it declares (checked here, read at server start).
 */
import { TaskrtError } from "../errors.ts";
import { isCallableComponent } from "../handlers/handler.ts";
import { resolveId } from "../registry/entry.ts";
import { defineKind } from "../contracts/kind-definition.ts";
import { checkRouteConflict } from "../http/checks.ts";
import { HttpEndpoint } from "../http/endpoint.ts";
import { endpointApiProblems, readApiDeclaration } from "../http/endpoint-api.ts";
import { routerOf } from "../http/router.ts";

export default defineKind({
  kind: "http.endpoint",
  summary: "One route (method and path) on an http.router, served by a function.",
  references: [
    { path: ["meta", "router"], kinds: ["http.router"] },
    { path: ["func"], kinds: ["function.*"] },
  ],
  service: false,
  check: (entry, registry) => [...checkRouteConflict(entry, registry), ...endpointApiProblems(entry)],
  create(entry, context) {
    const router = routerOf(entry, context);
    const funcId = resolveId(entry.data.func as string, entry.namespace);
    const target = context.component(funcId);
    if (!isCallableComponent(target)) {
      throw new TaskrtError("E_REF_KIND", `${entry.id}: func ${funcId} cannot be called`, {
        entryId: entry.id,
        location: entry.locate(["func"]),
        hint: "point func at a function.ts or function.lua entry",
      });
    }
    const endpoint = new HttpEndpoint({
      entryId: entry.id,
      method: (entry.data.method as string).toUpperCase(),
      path: entry.data.path as string,
      funcId,
      function: target,
      logger: context.logger.forEntry(entry.id),
      api: readApiDeclaration(entry.data),
    });
    router.addEndpoint(endpoint);
    return endpoint;
  },
});
