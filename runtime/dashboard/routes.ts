/**
 * @module dashboard/routes — every route a `taskrt.dashboard` entry serves, relative to its `path`:
 * the kind binds them and the registry check looks for clashes with them.
 */

export type DashboardRouteName = "redirect" | "page" | "script" | "style" | "overview" | "tasks" | "task" | "dead" | "retry" | "discard" | "pause" | "resume" | "messages" | "promote" | "remove";

export interface DashboardRoute {
  name: DashboardRouteName;
  method: "GET" | "POST";
  /** Appended to the entry's path (a `path` of `/` contributes nothing). */
  suffix: string;
  /** Part of the JSON API: needs the bearer token in token mode. */
  api: boolean;
}

const DASHBOARD_ROUTES: readonly DashboardRoute[] = [
  { name: "redirect", method: "GET", suffix: "", api: false },
  { name: "page", method: "GET", suffix: "/", api: false },
  { name: "script", method: "GET", suffix: "/dashboard.js", api: false },
  { name: "style", method: "GET", suffix: "/dashboard.css", api: false },
  { name: "overview", method: "GET", suffix: "/api/overview", api: true },
  { name: "tasks", method: "GET", suffix: "/api/tasks", api: true },
  { name: "task", method: "GET", suffix: "/api/tasks/{id}", api: true },
  { name: "dead", method: "GET", suffix: "/api/dead", api: true },
  { name: "retry", method: "POST", suffix: "/api/dead/retry", api: true },
  { name: "discard", method: "POST", suffix: "/api/dead/discard", api: true },
  { name: "messages", method: "GET", suffix: "/api/messages", api: true },
  { name: "promote", method: "POST", suffix: "/api/messages/promote", api: true },
  { name: "remove", method: "POST", suffix: "/api/messages/remove", api: true },
  { name: "pause", method: "POST", suffix: "/api/queues/pause", api: true },
  { name: "resume", method: "POST", suffix: "/api/queues/resume", api: true },
];

/** The entry's path without a trailing `/`; `/` itself becomes the empty base. */
export function dashboardBase(path: string): string {
  return path.endsWith("/") ? path.slice(0, -1) : path;
}

/** The routes for a path: the redirect from the bare path only exists when there is one. */
export function dashboardRoutes(path: string): { route: DashboardRoute; path: string }[] {
  const base = dashboardBase(path);
  return DASHBOARD_ROUTES.filter((route) => base !== "" || route.name !== "redirect").map((route) => ({ route, path: base + route.suffix }));
}
