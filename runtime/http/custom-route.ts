/**
 * @module http/custom-route — how a kind from outside taskrt serves HTTP: a route on the router its
 * entry names in `meta.router`, answered by a function from a web `Request` to a `Response`.
 */
import type { BuildContext } from "../contracts/build-context.ts";
import { errorMessage } from "../errors.ts";
import type { Entry } from "../registry/entry.ts";
import { jsonError } from "./exchange.ts";
import { routerOf } from "./router.ts";

export interface HttpRoute {
  /** `GET` (which answers `HEAD` too), `POST`, … */
  method: string;
  /** After the router's prefix: `/files`, `/files/{name}`, `/files/{path...}` for the rest of the path. */
  path: string;
  /** `params` holds the path's parameters, already URL-decoded. */
  handle(request: Request, params: Record<string, string>): Response | Promise<Response>;
}

/**
 * Serves the route on the entry's `meta.router` (declare that reference, with kinds ["http.router"]).
 * A handler that throws answers 500 and is logged with the entry's id; the server keeps serving.
 */
export function serveRoute(entry: Entry, context: BuildContext, route: HttpRoute): void {
  const logger = context.logger.forEntry(entry.id);
  const failed = (error: unknown): Response => {
    logger.error(`${route.method.toUpperCase()} ${route.path} failed: ${errorMessage(error)}`, { error });
    return jsonError(500, "internal error");
  };
  routerOf(entry, context).addBuiltinRoute({
    entryId: entry.id,
    method: route.method.toUpperCase(),
    path: route.path,
    createHandler: () => (request) => {
      try {
        return Promise.resolve(route.handle(request.req.raw, request.req.param() as Record<string, string>)).catch(failed);
      } catch (error) {
        return failed(error);
      }
    },
  });
}
