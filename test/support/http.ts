/**
 * @module test/support/http — HTTP servers for unit tests: a real registry (loaded and validated,
 * see ./registry.ts) of one http.service, one router, and an endpoint per route, whose functions
 * are closures of the test run inside a real call context.
 */
import type { Callable, CallableComponent, CallResult, CallScope } from "../../runtime/handlers/handler.ts";
import type { RuntimeServices } from "../../runtime/contracts/runtime-services.ts";
import { createLogger, type Logger } from "../../runtime/logger.ts";
import { runInContext } from "../../runtime/modules/context.ts";
import type { HttpServer } from "../../runtime/http/server.ts";
import { createComponents, registryOf, STAND_IN_MODULE } from "./registry.ts";
import { captureLogger, type LogRecord } from "./logs.ts";

const noServices: RuntimeServices = {
  database(id) {
    throw new Error(`no database ${id} in HTTP tests`);
  },
  queue(id) {
    throw new Error(`no queue ${id} in HTTP tests`);
  },
};

export type HandlerFunction = (...args: unknown[]) => unknown;

/** A function component whose call runs `handler` inside a real call context, as function.ts does. */
export function fakeFunction(entryId: string, handler: HandlerFunction, modules: readonly string[] = ["http"], logger?: Logger): CallableComponent {
  const base = { entryId, modules: new Set(modules), services: noServices, logger: logger ?? createLogger({ level: "error" }) };
  const callable: Callable = {
    entryId,
    call(args: readonly unknown[], scope?: CallScope): Promise<CallResult> {
      return runInContext({ ...base, ...scope }, async () => {
        try {
          return { value: await handler(...args) };
        } catch (error) {
          return { value: undefined, error: error instanceof Error ? error : new Error(String(error)) };
        }
      });
    },
  };
  return { callable: () => callable };
}

export interface RouteSpec {
  method: string;
  path: string;
  handler: HandlerFunction;
  modules?: string[];
  /** More fields of the endpoint entry: `request`, `responses`, `summary`, … */
  fields?: Record<string, unknown>;
}

export interface TestServer {
  server: HttpServer;
  url: string;
  logs: LogRecord[];
  stop(): Promise<void>;
}

/**
 * One started server on an ephemeral loopback port with one router (`prefix`), an endpoint and
 * function per route (`app:route<N>` and `app:func<N>`, the function being the route's handler),
 * and an `app:openapi` entry with `options.openapi` as its fields when given. `options.files` are
 * written beside (schema files: `file://task.json` is `app/task.json`).
 */
export async function startTestServer(
  routes: RouteSpec[],
  options: { prefix?: string; service?: Record<string, unknown>; openapi?: Record<string, unknown>; files?: Record<string, string> } = {},
): Promise<TestServer> {
  const { logger, lines } = captureLogger();
  const entries: Record<string, unknown>[] = [
    { name: "gateway", kind: "http.service", addr: "127.0.0.1:0", ...options.service },
    { name: "api", kind: "http.router", meta: { server: "gateway" }, prefix: options.prefix ?? "" },
  ];
  const functions: Record<string, CallableComponent> = {};
  routes.forEach((route, index) => {
    const modules = route.modules ?? ["http"];
    entries.push({ name: `func${index}`, kind: "function.ts", source: "file://handler.mjs", method: "handle", modules });
    entries.push({ name: `route${index}`, kind: "http.endpoint", meta: { router: "api" }, method: route.method, path: route.path, func: `func${index}`, ...route.fields });
    functions[`app:func${index}`] = fakeFunction(`app:func${index}`, route.handler, modules, logger);
  });
  if (options.openapi) entries.push({ name: "openapi", kind: "http.openapi", meta: { router: "api" }, ...options.openapi });
  const registry = await registryOf(entries, { files: { ...STAND_IN_MODULE, ...options.files } });
  const server = createComponents(registry, logger, { standIns: functions }).get("app:gateway") as unknown as HttpServer;
  await server.start();
  const { host, port } = server.address();
  return { server, url: `http://${host}:${port}`, logs: lines, stop: () => server.stop() };
}
