/**
 * @module http/checks — registry checks the schemas cannot express: two endpoints serving the same
 * method and path on one server, and two servers that would listen on the same port.
 */
import { relative, isAbsolute } from "node:path";
import { PROBLEM_CODES, type Problem } from "../errors.ts";
import { resolveId, type Entry, type Registry } from "../registry/entry.ts";
import { addrsCollide, parseAddr } from "./addr.ts";
import { joinRoutePath, routeShape } from "./route-path.ts";

const ADDR_PATTERN = /^([A-Za-z0-9.\-]*|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;

interface RouteFacts {
  entry: Entry;
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

/** The route of an endpoint, or `undefined` while its references are broken (reported elsewhere). */
function routeFacts(entry: Entry, registry: Registry): RouteFacts | undefined {
  const { method, path } = entry.data;
  const routerRef = entry.meta.router;
  if (typeof method !== "string" || typeof path !== "string" || typeof routerRef !== "string") return undefined;
  const router = registry.byId.get(resolveId(routerRef, entry.namespace));
  if (!router || router.kind !== "http.router" || typeof router.meta.server !== "string") return undefined;
  const prefix = typeof router.data.prefix === "string" ? router.data.prefix : "";
  const fullPath = joinRoutePath(prefix, path);
  return {
    entry,
    serverId: resolveId(router.meta.server, router.namespace),
    method: method.toUpperCase(),
    path: fullPath,
    shape: routeShape(fullPath),
  };
}

// The validator checks entries one by one; the route table of a registry is built once.
const routeTables = new WeakMap<Registry, Map<Entry, RouteFacts | undefined>>();

function routeTable(registry: Registry): Map<Entry, RouteFacts | undefined> {
  let table = routeTables.get(registry);
  if (!table) {
    table = new Map();
    for (const entry of registry.entries) if (entry.kind === "http.endpoint") table.set(entry, routeFacts(entry, registry));
    routeTables.set(registry, table);
  }
  return table;
}

/** E_ROUTE_CONFLICT on the later of two endpoints with the same method and path on one server. */
export function checkRouteConflict(entry: Entry, registry: Registry): Problem[] {
  const table = routeTable(registry);
  const route = table.has(entry) ? table.get(entry) : routeFacts(entry, registry);
  if (!route) return [];
  for (const [other, facts] of table) {
    if (other === entry) break;
    if (!facts || facts.serverId !== route.serverId || facts.method !== route.method || facts.shape !== route.shape) continue;
    return [
      {
        code: PROBLEM_CODES.ROUTE_CONFLICT,
        severity: "error",
        message: `${route.method} ${route.path} on ${route.serverId} is already served by ${other.id} (${where(other, registry)})`,
        entryId: entry.id,
        field: "path",
        location: entry.locate(["path"]),
        hint: "give one of the two endpoints another method or path, or remove one",
      },
    ];
  }
  return [];
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
