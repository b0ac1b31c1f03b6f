/**
 * @module dashboard/access — who may use the dashboard. With a bearer token configured, anyone who
 * sends it (from any address); without one, loopback clients only, and only when nothing says the
 * request was relayed (a reverse proxy on the same host would otherwise open it to everyone).
 *
 * Two browser attacks matter for a page on localhost: DNS rebinding (a foreign name resolving to
 * 127.0.0.1, caught by the Host check) and cross-site form posts (a state-changing request must
 * carry a custom header, which a foreign page cannot send without a CORS preflight we never grant).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { jsonError, type ServerEnv } from "../http/exchange.ts";

/** Sent by the page on every API request; a cross-site form or `fetch` in no-cors mode cannot add it. */
export const DASHBOARD_HEADER = "x-taskrt-dashboard";

const RELAY_HEADERS = ["forwarded", "x-forwarded-for", "x-real-ip"];
const LOOPBACK_HOST_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);

export type AccessMode = { kind: "token"; tokenEnv: string; digest: Buffer } | { kind: "loopback"; tokenEnv: string };

/** Reads the token from the environment: set and not blank means token mode. */
export function accessModeFrom(tokenEnv: string, environment: NodeJS.ProcessEnv = process.env): AccessMode {
  const token = environment[tokenEnv]?.trim();
  if (!token) return { kind: "loopback", tokenEnv };
  return { kind: "token", tokenEnv, digest: sha256(token) };
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  if (address === "::1") return true;
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** `localhost:8080`, `127.0.0.1`, `[::1]:8080`, `app.localhost`: names that cannot be rebound to another host. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = (host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:\d+$/, "")).toLowerCase();
  return LOOPBACK_HOST_NAMES.has(name) || name.endsWith(".localhost") || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

export interface AccessRequest {
  remoteAddress: string | undefined;
  headers: Headers;
  method: string;
}

export function accessRequestOf(context: Context<ServerEnv>): AccessRequest {
  return { remoteAddress: context.env.incoming.socket.remoteAddress, headers: context.req.raw.headers, method: context.req.method };
}

/**
 * Undefined when the request may go on, else the answer it gets. `api` requests (data and actions)
 * need the token in token mode; the page's static files do not (the page asks for the token).
 */
export function refuse(mode: AccessMode, request: AccessRequest, api: boolean): Response | undefined {
  if (mode.kind === "loopback") {
    const relayed = RELAY_HEADERS.some((name) => request.headers.has(name));
    if (!isLoopbackAddress(request.remoteAddress) || relayed) {
      return jsonError(403, `the dashboard answers loopback clients only; set ${mode.tokenEnv} to open it to other hosts with a bearer token`);
    }
    if (!isLoopbackHost(request.headers.get("host") ?? undefined)) {
      return jsonError(403, "the dashboard answers loopback host names only (localhost, 127.0.0.1, [::1])");
    }
  } else if (api) {
    const authorization = request.headers.get("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(authorization);
    if (!match || !timingSafeEqual(sha256(match[1].trim()), mode.digest)) {
      return jsonError(401, match ? "wrong bearer token" : "a bearer token is required", { "www-authenticate": 'Bearer realm="taskrt dashboard"' });
    }
  }
  if (api && request.method !== "GET" && request.method !== "HEAD" && request.headers.get(DASHBOARD_HEADER) !== "1") {
    return jsonError(403, `a dashboard action needs the ${DASHBOARD_HEADER}: 1 header`);
  }
  return undefined;
}
