/**
 * @module http/server — the component of an `http.service`: collects its routers while components
 * are created, then builds the Hono app and listens in `start()`, and drains gracefully in `stop()`.
 *
 * States: CREATED (routers attach) → `start()` → LISTENING → `stop()` → STOPPING (no new connections;
 * in-flight requests finish, up to `lifecycle.stop_timeout`; then remaining sockets are closed) →
 * STOPPED, from which `start()` may listen again with a fresh app and state.
 *
 * Timeouts map onto Node as follows:
 * - `timeouts.read` → `requestTimeout` and `headersTimeout` (the whole request, headers and body,
 *   must arrive within it; Node answers 408 and closes), checked every quarter of it, at most 1 s;
 *   a connection that sends nothing at all is closed by the same check (see connections.ts);
 * - `timeouts.write` → a per-response deadline from the moment the request is accepted until the
 *   handler returns; past it the client gets 503 `{error}` and the handler's late result is
 *   dropped (the handler is not interrupted);
 * - `timeouts.idle` → `keepAliveTimeout` (an idle keep-alive connection is closed after it).
 * `0` disables each of them. `max_connections` → `maxConnections` (further connections are refused).
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createAdaptorServer } from "@hono/node-server";
import { parseDuration, formatDuration } from "../duration.ts";
import { TaskrtError } from "../errors.ts";
import type { Component } from "../contracts/component.ts";
import type { Logger } from "../logger.ts";
import { measureRoute } from "../metrics/http-route.ts";
import { NO_INSTRUMENTS, type Instruments } from "../metrics/instruments.ts";
import type { Entry } from "../registry/entry.ts";
import { formatUrl, parseAddr, reachableHost, type ListenAddress } from "./addr.ts";
import { buildApp, type RouteBinding } from "./app.ts";
import { limitConnections } from "./connections.ts";
import { createEndpointHandler, type RouteHandler, type ServeState } from "./dispatch.ts";
import { InFlightRequests } from "./in-flight.ts";
import { listen } from "./listen.ts";
import { joinRoutePath, toHonoPath } from "./route-path.ts";
import type { HttpRouter } from "./router.ts";

interface Timeouts {
  read: number;
  write: number;
  idle: number;
}

interface Running {
  server: Server;
  state: ServeState;
  abort: AbortController;
  port: number;
}

export class HttpServer implements Component {
  readonly entryId: string;
  readonly addr: string;
  readonly #address: ListenAddress;
  readonly #timeouts: Timeouts;
  readonly #maxBody: number;
  readonly #maxJsonDepth: number;
  readonly #maxConnections: number;
  readonly #stopTimeout: number;
  readonly #logger: Logger;
  readonly #routers: HttpRouter[] = [];
  readonly #instruments: Instruments;
  #running: Running | undefined;

  constructor(entry: Entry, logger: Logger, instruments: Instruments = NO_INSTRUMENTS) {
    this.entryId = entry.id;
    this.addr = entry.data.addr as string;
    this.#address = parseAddr(this.addr);
    const timeouts = entry.data.timeouts as Record<string, string | number>;
    this.#timeouts = {
      read: Math.ceil(parseDuration(timeouts.read)),
      write: Math.ceil(parseDuration(timeouts.write)),
      idle: Math.ceil(parseDuration(timeouts.idle)),
    };
    this.#maxBody = entry.data.max_body as number;
    this.#maxJsonDepth = entry.data.max_json_depth as number;
    this.#maxConnections = entry.data.max_connections as number;
    this.#stopTimeout = parseDuration((entry.data.lifecycle as Record<string, string | number>).stop_timeout);
    this.#logger = logger;
    this.#instruments = instruments;
  }

  /** Called by each router's `create`, before any server starts. */
  attachRouter(router: HttpRouter): void {
    this.#routers.push(router);
  }

  async start(): Promise<void> {
    if (this.#running) return;
    const abort = new AbortController();
    const state: ServeState = {
      maxBody: this.#maxBody,
      maxJsonDepth: this.#maxJsonDepth,
      writeTimeout: this.#timeouts.write,
      inFlight: new InFlightRequests(this.#timeouts.write),
      signal: abort.signal,
      closing: false,
    };
    let routes: RouteBinding[];
    try {
      routes = this.#routes(state);
    } catch (error) {
      // An endpoint's schema file went missing since validation: nothing listens yet.
      state.inFlight.close();
      throw error;
    }
    const app = buildApp(routes, this.#logger);
    const read = this.#timeouts.read;
    const checkingInterval = Math.min(1000, Math.max(100, Math.floor(read / 4)));
    const server = createAdaptorServer({
      fetch: app.fetch,
      serverOptions: {
        requestTimeout: read,
        headersTimeout: read,
        ...(read > 0 ? { connectionsCheckingInterval: checkingInterval } : {}),
      },
    }) as Server;
    server.keepAliveTimeout = this.#timeouts.idle;
    limitConnections(server, { entryId: this.entryId, maxConnections: this.#maxConnections }, this.#logger);
    try {
      await listen(server, this.#address, this.entryId, this.addr);
    } catch (error) {
      state.inFlight.close();
      throw error;
    }
    server.on("error", (error) => this.#logger.error(`server error: ${error.message}`, { error }));
    const bound = server.address();
    const port = typeof bound === "object" && bound ? bound.port : this.#address.port;
    this.#running = { server, state, abort, port };
  }

  async stop(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    const { server, state } = running;
    // From here every response asks its client to close the connection: requests already being
    // served (through the state flag) and any that still arrive on a kept-alive connection.
    state.closing = true;
    server.prependListener("request", refuseKeepAlive);
    // Stops accepting and closes idle connections; the callback runs once the last one has closed.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    if (!(await settlesWithin(closed, this.#stopTimeout))) {
      const busy = state.inFlight.size;
      this.#logger.warn(
        busy > 0
          ? `${busy} request(s) still running after stop_timeout ${formatDuration(this.#stopTimeout)}; closing their connections`
          : `connections still open after stop_timeout ${formatDuration(this.#stopTimeout)}; closing them`,
      );
      running.abort.abort(new TaskrtError("E_STOPPED", `${this.entryId} stopped`, { entryId: this.entryId }));
      server.closeAllConnections();
      await closed;
    }
    state.inFlight.close();
    this.#running = undefined;
  }

  /** Where a client reaches the server: loopback for a wildcard addr. Only while listening. */
  address(): { host: string; port: number } {
    if (!this.#running) {
      throw new TaskrtError("E_NOT_LISTENING", `${this.entryId} is not listening`, { entryId: this.entryId, hint: "start the service first" });
    }
    return { host: reachableHost(this.#address), port: this.#running.port };
  }

  describe(): string | undefined {
    if (!this.#running) return undefined;
    const url = formatUrl(reachableHost(this.#address), this.#running.port);
    return `listening on ${url}${this.#address.host === undefined ? " (all interfaces)" : ""}`;
  }

  /** Endpoints first (each reads its schemas), then the runtime's own routes, which may describe them. */
  #routes(state: ServeState): RouteBinding[] {
    const routes: RouteBinding[] = [];
    for (const router of this.#routers) {
      for (const endpoint of router.endpoints) {
        routes.push(this.#binding(router, endpoint.method, endpoint.path, createEndpointHandler(endpoint, state)));
      }
    }
    for (const router of this.#routers) {
      for (const route of router.builtinRoutes) routes.push(this.#binding(router, route.method, route.path, route.createHandler(this.#routers)));
    }
    return routes;
  }

  /** Measured when metrics are collected, labelled by the declared pattern (never the raw URL); as is otherwise. */
  #binding(router: HttpRouter, method: string, path: string, handler: RouteHandler): RouteBinding {
    const route = joinRoutePath(router.prefix, path);
    const recorder = this.#instruments.httpRoute(route, method);
    return { method, honoPath: toHonoPath(route), handler: recorder ? measureRoute(handler, recorder) : handler };
  }
}

function refuseKeepAlive(_request: IncomingMessage, response: ServerResponse): void {
  response.shouldKeepAlive = false;
}

async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
