/**
 * @module http/checks — registry checks the schemas cannot express: two routes (endpoints, OpenAPI
 * documents, metrics, health probes) serving the same method and path on one server, and two
 * servers that would listen on the same port.
 */
import { relative, isAbsolute } from "node:path";
import { PROBLEM_CODES, type Problem } from "../errors.ts";
import { resolveId, type Entry, type Registry } from "../registry/entry.ts";
import { addrsCollide, parseAddr } from "./addr.ts";
import { joinRoutePath, routeShape } from "./route-path.ts";
import { dashboardRoutes } from "../dashboard/routes.ts";

const ADDR_PATTERN = /^([A-Za-z0-9.\-]*|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;

interface RouteFacts {
  entry: Entry;
  /** The entry's field holding the path. */
  field: string;
  serverId: string;
  method: string;
  /** Prefix + path as written, for messages. */
  path: string;
  shape: string;
}

function where(entry: Entry, registry: Registry): string {
  const file = registry.root && isAbsolute(entry.file) ? relative(registry.root, entry.file) : entry.file;
  return `${file}:${entry.location.line}`;
}

/** The kinds that serve routes on a router: for each route, its method, the field its path comes from, and the path. */
const ROUTES: Record<string, (entry: Entry) => { method: unknown; field: string; path: unknown }[]> = {
  "http.endpoint": (entry) => [{ method: entry.data.method, field: "path", path: entry.data.path }],
  "http.openapi": (entry) => [{ method: "GET", field: "path", path: entry.data.path }],
  "taskrt.metrics": (entry) => [{ method: "GET", field: "path", path: entry.data.path }],
  "taskrt.health": (entry) => [
    { method: "GET", field: "liveness", path: entry.data.liveness },
    { method: "GET", field: "readiness", path: entry.data.readiness },
  ],
  "taskrt.dashboard": (entry) =>
    typeof entry.data.path === "string" ? dashboardRoutes(entry.data.path).map(({ route, path }) => ({ method: route.method, field: "path", path })) : [],
};

/** The routes of an entry; none while its references are broken (reported elsewhere). */
function routeFacts(entry: Entry, registry: Registry): RouteFacts[] {
  const routerRef = entry.meta.router;
  if (typeof routerRef !== "string") return [];
  const router = registry.byId.get(resolveId(routerRef, entry.namespace));
  if (!router || router.kind !== "http.router" || typeof router.meta.server !== "string") return [];
  const prefix = typeof router.data.prefix === "string" ? router.data.prefix : "";
  const serverId = resolveId(router.meta.server, router.namespace);
  return (ROUTES[entry.kind]?.(entry) ?? []).flatMap(({ method, field, path }) => {
    if (typeof method !== "string" || typeof path !== "string") return [];
    const fullPath = joinRoutePath(prefix, path);
    return [{ entry, field, serverId, method: method.toUpperCase(), path: fullPath, shape: routeShape(fullPath) }];
  });
}

// The validator checks entries one by one; the route table of a registry is built once.
const routeTables = new WeakMap<Registry, RouteFacts[]>();

/** Every route of the registry, in entry order. */
function routeTable(registry: Registry): RouteFacts[] {
  let table = routeTables.get(registry);
  if (!table) {
    table = registry.entries.filter((entry) => entry.kind in ROUTES).flatMap((entry) => routeFacts(entry, registry));
    routeTables.set(registry, table);
  }
  return table;
}

/** E_ROUTE_CONFLICT on the later of two routes with the same method and path on one server. */
export function checkRouteConflict(entry: Entry, registry: Registry): Problem[] {
  const table = routeTable(registry);
  const routes = registry.entries.includes(entry) ? table.filter((facts) => facts.entry === entry) : routeFacts(entry, registry);
  const problems: Problem[] = [];
  for (const route of routes) {
    const index = table.indexOf(route);
    const earlier = index >= 0 ? table.slice(0, index) : table.filter((facts) => facts.entry !== entry);
    const first = earlier.find((facts) => facts.serverId === route.serverId && facts.method === route.method && facts.shape === route.shape);
    if (!first) continue;
    problems.push({
      code: PROBLEM_CODES.ROUTE_CONFLICT,
      severity: "error",
      message: `${route.method} ${route.path} on ${route.serverId} is already served by ${first.entry.id} (${where(first.entry, registry)})`,
      entryId: entry.id,
      field: route.field,
      location: entry.locate([route.field]),
      hint: "give one of the two endpoints another method or path, or remove one",
    });
  }
  return problems;
}

/** E_ADDR_CONFLICT on the later of two `http.service` entries that would bind the same port. */
export function checkAddrConflict(entry: Entry, registry: Registry): Problem[] {
  const addr = entry.data.addr;
  if (typeof addr !== "string" || !ADDR_PATTERN.test(addr)) return [];
  const address = parseAddr(addr);
  for (const other of registry.entries) {
    if (other === entry) break;
    const otherAddr = other.data.addr;
    if (other.kind !== "http.service" || typeof otherAddr !== "string" || !ADDR_PATTERN.test(otherAddr)) continue;
    if (!addrsCollide(address, parseAddr(otherAddr))) continue;
    return [
      {
        code: PROBLEM_CODES.ADDR_CONFLICT,
        severity: "error",
        message: `addr ${addr} is already taken by ${other.id} (${where(other, registry)}), which listens on ${otherAddr}`,
        entryId: entry.id,
        field: "addr",
        location: entry.locate(["addr"]),
        hint: "give each http.service its own port",
      },
    ];
  }
  return [];
}
