/**
 * @module http/app — builds the Hono app of one server from its routes: matched requests go to
 * their endpoint; the rest get 404, 405 with `Allow`, or the automatic 204 for OPTIONS.
 */
import { Hono } from "hono";
import type { Logger } from "../logger.ts";
import type { ServerEnv } from "./exchange.ts";
import { jsonError } from "./exchange.ts";
import type { RouteHandler } from "./dispatch.ts";
import { compileRouteMatcher } from "./route-path.ts";

export interface RouteBinding {
  /** Upper-case. */
  method: string;
  /** Full path (prefix + endpoint path) in Hono's syntax. */
  honoPath: string;
  handler: RouteHandler;
}

const METHOD_ORDER = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

function allowHeader(methods: Set<string>): string {
  // GET routes answer HEAD too (Hono runs the GET handler and drops the body).
  if (methods.has("GET")) methods.add("HEAD");
  methods.add("OPTIONS");
  const known = METHOD_ORDER.filter((method) => methods.has(method));
  const others = [...methods].filter((method) => !METHOD_ORDER.includes(method)).sort();
  return [...known, ...others].join(", ");
}

export function buildApp(routes: readonly RouteBinding[], logger: Logger): Hono<ServerEnv> {
  const app = new Hono<ServerEnv>();
  for (const route of routes) app.on(route.method, route.honoPath, route.handler);

  // Requests Hono did not match: only here do we work out which methods the path does have.
  const matchers = routes.map((route) => ({ method: route.method, pattern: compileRouteMatcher(route.honoPath) }));
  app.notFound((context) => {
    const path = context.req.path;
    const methods = new Set<string>();
    for (const matcher of matchers) if (matcher.pattern.test(path)) methods.add(matcher.method);
    if (methods.size === 0) return jsonError(404, "not found");
    const allow = allowHeader(methods);
    if (context.req.method === "OPTIONS") return new Response(null, { status: 204, headers: { allow } });
    return jsonError(405, "method not allowed", { allow });
  });

  app.onError((error, context) => {
    logger.error(`request failed inside the runtime: ${error.message}`, { method: context.req.method, path: context.req.path, error });
    return jsonError(500, "internal error");
  });
  return app;
}
