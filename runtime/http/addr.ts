/**
 * @module http/addr — parses an `http.service` addr (`":8080"`, `"host:port"`, `"[::1]:0"`) into
 * what `server.listen` takes, and decides whether two addrs would fight over one port.
 */

export interface ListenAddress {
  /** `undefined`: every interface (Node listens on `::`, dual-stack, or `0.0.0.0`). */
  host: string | undefined;
  port: number;
}

const WILDCARD_HOSTS = new Set(["", "0.0.0.0", "::", "*"]);

/** The schema already checked the shape; this splits at the last `:` and unwraps `[v6]`. */
export function parseAddr(addr: string): ListenAddress {
  const colon = addr.lastIndexOf(":");
  let host = colon < 0 ? "" : addr.slice(0, colon);
  const port = Number(colon < 0 ? addr : addr.slice(colon + 1));
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return { host: WILDCARD_HOSTS.has(host) ? undefined : host, port };
}

/** The host to reach a listening server at: loopback for a wildcard bind. */
export function reachableHost(address: ListenAddress): string {
  return address.host ?? "127.0.0.1";
}

/** `http://127.0.0.1:8080`, with IPv6 hosts bracketed. */
export function formatUrl(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

function canonicalHost(host: string): string {
  const lower = host.toLowerCase();
  return lower === "localhost" || lower === "::1" ? "127.0.0.1" : lower;
}

/**
 * Two addrs collide when they name the same port and either binds every interface or both bind the
 * same host. Port 0 is ephemeral and never collides.
 */
export function addrsCollide(first: ListenAddress, second: ListenAddress): boolean {
  if (first.port === 0 || first.port !== second.port) return false;
  if (first.host === undefined || second.host === undefined) return true;
  return canonicalHost(first.host) === canonicalHost(second.host);
}
