/**
 * @module dashboard/access — who may use the dashboard: whoever sends its bearer token. The token
 * comes from the environment, or, when none is set there, is generated at start and printed in the
 * address `taskrt run` shows (Jupyter's approach). So the API never trusts where a request comes
 * from: a reverse proxy on the same host connects from loopback and may add no forwarding header,
 * and through it a loopback-only rule would answer everyone.
 *
 * Two browser attacks matter for a page on localhost: DNS rebinding (a foreign name resolving to
 * 127.0.0.1, caught by the Host check while the token is generated) and cross-site form posts (a
 * state-changing request must carry a custom header, which a foreign page cannot send without a
 * CORS preflight we never grant).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { jsonError, type ServerEnv } from "../http/exchange.ts";

/** Sent by the page on every API request; a cross-site form or `fetch` in no-cors mode cannot add it. */
export const DASHBOARD_HEADER = "x-taskrt-dashboard";

/** 24 random bytes: 32 url-safe characters, as strong as Jupyter's 48 hex digits. */
const GENERATED_TOKEN_BYTES = 24;
const LOOPBACK_HOST_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** `configured`: the operator's token from `tokenEnv`; `generated`: made at start because `tokenEnv` was unset. */
export type AccessMode =
  | { kind: "configured"; tokenEnv: string; digest: Buffer }
  | { kind: "generated"; tokenEnv: string; token: string; digest: Buffer };

// One per dashboard entry for the life of the process, so a `--watch` reload keeps the open page
// (and the address printed at start) working.
const generatedTokens = new Map<string, string>();

/** The token generated for `key` (a dashboard's entry id) in this process, made on first use. */
export function generatedToken(key: string): string {
  let token = generatedTokens.get(key);
  if (!token) {
    token = randomBytes(GENERATED_TOKEN_BYTES).toString("base64url");
    generatedTokens.set(key, token);
  }
  return token;
}

/** Reads the token from the environment: set and not blank means `configured`, else `generate()` makes one. */
export function accessModeFrom(tokenEnv: string, generate: () => string, environment: NodeJS.ProcessEnv = process.env): AccessMode {
  const configured = environment[tokenEnv]?.trim();
  if (configured) return { kind: "configured", tokenEnv, digest: sha256(configured) };
  const token = generate();
  return { kind: "generated", tokenEnv, token, digest: sha256(token) };
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** `localhost:8080`, `127.0.0.1`, `[::1]:8080`, `app.localhost`: names that cannot be rebound to another host. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = (host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:\d+$/, "")).toLowerCase();
  return LOOPBACK_HOST_NAMES.has(name) || name.endsWith(".localhost") || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

export interface AccessRequest {
  headers: Headers;
  method: string;
}

export function accessRequestOf(context: Context<ServerEnv>): AccessRequest {
  return { headers: context.req.raw.headers, method: context.req.method };
}

/**
 * Undefined when the request may go on, else the answer it gets. `api` requests (data and actions)
 * need the token; the page's static files do not (the page reads the token from its address or
 * asks for it).
 */
export function refuse(mode: AccessMode, request: AccessRequest, api: boolean): Response | undefined {
  if (mode.kind === "generated" && !isLoopbackHost(request.headers.get("host") ?? undefined)) {
    return jsonError(403, `the dashboard answers loopback host names only (localhost, 127.0.0.1, [::1]) while its token is generated; set ${mode.tokenEnv} to serve it under another name`);
  }
  if (api) {
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.get("authorization") ?? "");
    if (!match || !timingSafeEqual(sha256(match[1].trim()), mode.digest)) {
      return jsonError(401, match ? "wrong bearer token" : missingTokenMessage(mode), { "www-authenticate": 'Bearer realm="taskrt dashboard"' });
    }
    if (request.method !== "GET" && request.method !== "HEAD" && request.headers.get(DASHBOARD_HEADER) !== "1") {
      return jsonError(403, `a dashboard action needs the ${DASHBOARD_HEADER}: 1 header`);
    }
  }
  return undefined;
}

function missingTokenMessage(mode: AccessMode): string {
  if (mode.kind === "configured") return "a bearer token is required";
  return `a bearer token is required: ${mode.tokenEnv} is unset, so one was generated at start; open the dashboard's address that \`taskrt run\` printed, which carries it`;
}
