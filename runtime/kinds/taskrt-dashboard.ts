/**
 * @module kinds/taskrt-dashboard — `taskrt.dashboard`: a web page for the app's operators on a
 * router (queues and their counts, the application's tasks, dead letters to retry or discard) and
 * the JSON API it polls. Protected by a bearer token: the operator's, from the environment, or
 * else one generated at start.
 *
 * A plain resource like `taskrt.metrics`: started before the services, it reads the token then. A
 * generated token is printed only in `describe()` (the start-up line `taskrt run` shows, as an
 * address that carries it), never in a log line: logs are shipped and kept where a status line is not.
 */
import { readFileSync } from "node:fs";
import { TaskrtError } from "../errors.ts";
import { checkRouteConflict } from "../http/checks.ts";
import type { RouteHandler } from "../http/dispatch.ts";
import { routerOf, type BuiltinRoute } from "../http/router.ts";
import { joinRoutePath } from "../http/route-path.ts";
import { formatUrl } from "../http/addr.ts";
import { HttpServer } from "../http/server.ts";
import type { Logger } from "../logger.ts";
import { parseDuration } from "../duration.ts";
import { resolveId, type Entry } from "../registry/entry.ts";
import { isQueueHandle } from "./queue-queue.ts";
import { accessModeFrom, accessRequestOf, generatedToken, refuse, type AccessMode } from "../dashboard/access.ts";
import { DashboardApi, type DashboardConsumer, type DashboardQueue } from "../dashboard/api.ts";
import { dashboardBase, dashboardRoutes, type DashboardRoute } from "../dashboard/routes.ts";
import { TasksTable } from "../dashboard/tasks-table.ts";
import type { Component } from "../contracts/component.ts";
import { runtimeOf, type BuildContext } from "../contracts/build-context.ts";
import { defineKind } from "../contracts/kind-definition.ts";

/** Polling faster than this costs the queues and the database more than a person can read. */
const MIN_REFRESH_MS = 250;

const ASSETS = {
  page: { file: "index.html", type: "text/html; charset=utf-8" },
  script: { file: "dashboard.js", type: "text/javascript; charset=utf-8" },
  style: { file: "dashboard.css", type: "text/css; charset=utf-8" },
} as const;

const PAGE_HEADERS = {
  "cache-control": "no-cache",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

function readAsset(name: keyof typeof ASSETS): string {
  return readFileSync(new URL(`../dashboard/assets/${ASSETS[name].file}`, import.meta.url), "utf8");
}

/** The entry's component: the routes it added to its router read the access mode set at start. */
export class Dashboard implements Component {
  readonly entryId: string;
  /** Router prefix + path, for messages and the redirect. */
  readonly url: string;
  readonly api: DashboardApi;
  readonly #tokenEnv: string;
  readonly #logger: Logger;
  readonly #origin: () => string | undefined;
  #mode: AccessMode | undefined;

  /** `origin` gives `http://host:port` of the server once it listens. */
  constructor(entryId: string, url: string, api: DashboardApi, tokenEnv: string, logger: Logger, origin: () => string | undefined = () => undefined) {
    this.entryId = entryId;
    this.url = url;
    this.api = api;
    this.#tokenEnv = tokenEnv;
    this.#logger = logger;
    this.#origin = origin;
  }

  async start(): Promise<void> {
    this.#mode = this.#readMode();
    if (this.#mode.kind === "configured") {
      this.#logger.info(`dashboard at ${this.url}/: the API asks for the bearer token in ${this.#tokenEnv}`);
    } else {
      this.#logger.info(`dashboard at ${this.url}/: ${this.#tokenEnv} is unset, so the API asks for a token generated at start; \`taskrt run\` prints the address that carries it`);
    }
  }

  async stop(): Promise<void> {
    this.#mode = undefined;
  }

  /** Fixed at start; read from the environment when asked before. */
  get mode(): AccessMode {
    return this.#mode ?? this.#readMode();
  }

  #readMode(): AccessMode {
    return accessModeFrom(this.#tokenEnv, () => generatedToken(this.entryId));
  }

  /**
   * The page's address; with a generated token, in its fragment (`#token=`), which the browser
   * never sends: it stays out of access logs, proxies' logs and Referer, and the page removes it
   * from the address bar once it has read it.
   */
  address(): string {
    const mode = this.mode;
    const page = `${this.#origin() ?? ""}${this.url}/`;
    return mode.kind === "generated" ? `${page}#token=${mode.token}` : page;
  }

  describe(): string {
    const access = this.mode.kind === "configured" ? `bearer token from ${this.#tokenEnv}` : `token generated at start (set ${this.#tokenEnv} to choose one)`;
    return `dashboard at ${this.address()}: ${access}`;
  }
}

class DashboardRouteBinding implements BuiltinRoute {
  readonly method: string;

  constructor(
    readonly entryId: string,
    readonly path: string,
    private readonly route: DashboardRoute,
    private readonly dashboard: Dashboard,
  ) {
    this.method = route.method;
  }

  createHandler(): RouteHandler {
    const handle = this.#handler();
    const { api } = this.route;
    const dashboard = this.dashboard;
    return (context) => refuse(dashboard.mode, accessRequestOf(context), api) ?? handle(context);
  }

  #handler(): RouteHandler {
    const api = this.dashboard.api;
    switch (this.route.name) {
      case "redirect": {
        const location = `${this.dashboard.url}/`;
        return () => new Response(null, { status: 308, headers: { location } });
      }
      case "page":
      case "script":
      case "style": {
        const asset = ASSETS[this.route.name];
        const body = readAsset(this.route.name);
        return () => new Response(body, { status: 200, headers: { "content-type": asset.type, ...PAGE_HEADERS } });
      }
      case "overview":
        return () => api.overview();
      case "tasks":
        return (context) => api.tasks(context);
      case "task":
        return (context) => api.task(context);
      case "dead":
        return (context) => api.deadLetters(context);
      case "retry":
        return (context) => api.settleDeadLetter(context, "retry");
      case "discard":
        return (context) => api.settleDeadLetter(context, "discard");
      case "messages":
        return (context) => api.messages(context);
      case "promote":
      case "remove": {
        const action = this.route.name;
        return (context) => api.changeMessage(context, action);
      }
      case "pause":
      case "resume": {
        const action = this.route.name;
        return (context) => api.setPaused(context, action);
      }
      default: {
        const unknown: never = this.route.name;
        throw new Error(`unknown dashboard route ${String(unknown)}`);
      }
    }
  }
}

function dashboardQueues(entry: Entry, context: BuildContext): DashboardQueue[] {
  const declared = entry.data.queues as string[] | undefined;
  const ids = declared
    ? declared.map((reference) => resolveId(reference, entry.namespace))
    : context.registry.entries.filter((candidate) => candidate.kind === "queue.queue").map((candidate) => candidate.id);
  return ids.map((id, index) => {
    const handle = context.component(id);
    if (!isQueueHandle(handle)) {
      throw new TaskrtError("E_REF_KIND", `${entry.id}: queues lists ${id}, which is not a queue.queue`, {
        entryId: entry.id,
        location: declared ? entry.locate(["queues", index]) : entry.location,
      });
    }
    const queueEntry = context.registry.byId.get(id)!;
    const driverId = resolveId(queueEntry.data.driver as string, queueEntry.namespace);
    return { id, driverId, driverKind: context.registry.byId.get(driverId)?.kind ?? "unknown", handle };
  });
}

function dashboardConsumers(queues: readonly DashboardQueue[], context: BuildContext): DashboardConsumer[] {
  const shown = new Set(queues.map((queue) => queue.id));
  return context.registry.entries
    .filter((candidate) => candidate.kind === "queue.consumer")
    .map((consumer) => ({
      id: consumer.id,
      queueId: resolveId(consumer.data.queue as string, consumer.namespace),
      concurrency: Number(consumer.data.concurrency ?? 1),
    }))
    .filter((consumer) => shown.has(consumer.queueId));
}

/** The server the router is attached to, for the dashboard's full address in `describe()`. */
function serverOf(routerId: string, context: BuildContext): HttpServer | undefined {
  const router = context.registry.byId.get(routerId);
  if (typeof router?.meta.server !== "string") return undefined;
  const server = context.component(resolveId(router.meta.server, router.namespace));
  return server instanceof HttpServer ? server : undefined;
}

function tasksTable(entry: Entry, context: BuildContext): TasksTable | undefined {
  const tasks = entry.data.tasks as { db: string; table: string; id: string; status: string; order_by?: string; list: string[] } | undefined;
  if (!tasks) return undefined;
  const databaseId = resolveId(tasks.db, entry.namespace);
  return new TasksTable(async () => context.services.database(databaseId), {
    table: tasks.table,
    id: tasks.id,
    status: tasks.status,
    orderBy: tasks.order_by ?? tasks.id,
    listColumns: tasks.list,
  });
}

export default defineKind({
  kind: "taskrt.dashboard",
  summary: "Serves a web dashboard on an http.router: queue counts, tasks, dead letters to retry or discard; behind a bearer token, generated at start when none is configured.",
  references: [
    { path: ["meta", "router"], kinds: ["http.router"] },
    { path: ["queues"], kinds: ["queue.queue"] },
    { path: ["tasks", "db"], kinds: ["db.sql.*"] },
  ],
  service: false,
  check: checkRouteConflict,
  create(entry, context) {
    const router = routerOf(entry, context);
    const runtime = runtimeOf(entry, context);
    const logger = context.logger.forEntry(entry.id);
    const queues = dashboardQueues(entry, context);
    const api = new DashboardApi({
      title: entry.data.title as string,
      refreshMs: Math.max(MIN_REFRESH_MS, parseDuration(entry.data.refresh as string | number)),
      queues,
      consumers: dashboardConsumers(queues, context),
      consumerState: (id) => runtime.state(id),
      tasks: tasksTable(entry, context),
      logger,
    });
    const path = entry.data.path as string;
    const server = serverOf(router.entryId, context);
    const origin = (): string | undefined => {
      if (!server) return undefined;
      try {
        const { host, port } = server.address();
        return formatUrl(host, port);
      } catch {
        return undefined; // not listening (yet)
      }
    };
    const dashboard = new Dashboard(entry.id, joinRoutePath(router.prefix, dashboardBase(path)), api, entry.data.token_env as string, logger, origin);
    for (const { route, path: routePath } of dashboardRoutes(path)) {
      router.addBuiltinRoute(new DashboardRouteBinding(entry.id, routePath, route, dashboard));
    }
    return dashboard;
  },
});
