/**
 * @module metrics/router-ref — the `http.router` an operations entry (metrics, health, dashboard)
 * serves its routes on, read from its `meta.router`, and the supervisor's view it reports on.
 */
import { TaskrtError } from "../errors.ts";
import { HttpRouter } from "../http/router.ts";
import type { BuildContext, RuntimeView } from "../kinds/kind.ts";
import { resolveId, type Entry } from "../registry/entry.ts";

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

/** The supervisor's view, which the operations entries report on; hand-built contexts lack it. */
export function runtimeOf(entry: Entry, context: BuildContext): RuntimeView {
  if (!context.runtime) {
    throw new TaskrtError("E_INTERNAL", `internal: ${entry.id} needs the supervisor's runtime view in its build context`, { entryId: entry.id });
  }
  return context.runtime;
}
