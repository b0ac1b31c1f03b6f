/**
 * @module http/test-helpers — builds HTTP entries (with their schema's real defaults), a registry,
 * fake functions and the components of a registry, so HTTP tests run without loader or supervisor.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import type { Callable, CallableComponent, CallResult, CallScope } from "../handlers/handler.ts";
import type { Component } from "../contracts/component.ts";
import type { RuntimeServices } from "../contracts/runtime-services.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import type { KindDefinition } from "../contracts/kind-definition.ts";
import { createLogger, type Logger } from "../logger.ts";
import { runInContext } from "../modules/context.ts";
import type { Entry, FieldPath, Registry } from "../registry/entry.ts";
import httpService from "../kinds/http-service.ts";
import httpRouter from "../kinds/http-router.ts";
import httpEndpoint from "../kinds/http-endpoint.ts";
import httpOpenapi from "../kinds/http-openapi.ts";
import type { HttpServer } from "./server.ts";

export const TEST_ROOT = "/project";
const SCHEMA_DIR = new URL("../../schemas/", import.meta.url).pathname;
const KINDS: Record<string, KindDefinition> = { "http.service": httpService, "http.router": httpRouter, "http.endpoint": httpEndpoint, "http.openapi": httpOpenapi };

const ajv = new Ajv({ useDefaults: true, strict: false, allErrors: true });
ajv.addSchema(JSON.parse(readFileSync(join(SCHEMA_DIR, "lifecycle.json"), "utf8")));
const validators = new Map<string, ReturnType<typeof ajv.compile>>();

function validatorFor(kind: string): ReturnType<typeof ajv.compile> {
  let validate = validators.get(kind);
  if (!validate) {
    validate = ajv.compile(JSON.parse(readFileSync(join(SCHEMA_DIR, `${kind}.json`), "utf8")));
    validators.set(kind, validate);
  }
  return validate;
}

let nextLine = 1;

/**
 * An entry as the loader and validator would produce it: `fields` are the YAML keys besides
 * name/kind/meta; schema defaults are filled in; schema errors throw. Lines count up per entry.
 */
export function makeEntry(
  id: string,
  kind: string,
  fields: Record<string, unknown> = {},
  options: { meta?: Record<string, unknown>; file?: string; line?: number } = {},
): Entry {
  const colon = id.indexOf(":");
  const namespace = id.slice(0, colon);
  const name = id.slice(colon + 1);
  const document: Record<string, unknown> = { name, kind, meta: { ...(options.meta ?? {}) }, ...structuredClone(fields) };
  if (kind in KINDS || kind === "function.ts") {
    const validate = validatorFor(kind);
    if (!validate(document)) throw new Error(`${id}: ${ajv.errorsText(validate.errors)}`);
  }
  const { meta, name: _name, kind: _kind, ...data } = document;
  const file = options.file ?? join(TEST_ROOT, "app", "_index.yaml");
  const line = options.line ?? nextLine++;
  return {
    id,
    namespace,
    name,
    kind,
    meta: meta as Record<string, unknown>,
    data,
    file,
    location: { file, line, column: 3 },
    locate(path: FieldPath) {
      // Fields sit on the lines after the entry's name, in a fixed order good enough for tests.
      return { file, line: line + (path[0] === "meta" ? 1 : 2), column: 5 };
    },
  };
}

export function makeRegistry(entries: Entry[]): Registry {
  return { root: TEST_ROOT, entries, byId: new Map(entries.map((entry) => [entry.id, entry])) };
}

export interface CapturedLog {
  logger: Logger;
  lines: Record<string, unknown>[];
}

export function captureLogger(): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: "debug", format: "json", sink: { write: (line) => lines.push(JSON.parse(line)) } });
  return { logger, lines };
}

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

/**
 * Creates the components of every HTTP entry in registry order (the supervisor's dependency order
 * for these kinds), with `functions` standing in for the function entries.
 */
export function createComponents(registry: Registry, functions: Record<string, object>, logger: Logger): Map<string, Component> {
  const components = new Map<string, Component>(Object.entries(functions) as [string, Component][]);
  const context: BuildContext = {
    registry,
    logger,
    services: noServices,
    component<T = Component>(id: string): T {
      const component = components.get(id);
      if (!component) throw new Error(`no component ${id}`);
      return component as unknown as T;
    },
  };
  for (const entry of registry.entries) {
    const kind = KINDS[entry.kind];
    if (kind) components.set(entry.id, kind.create(entry, context));
  }
  return components;
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
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

/**
 * One started server on an ephemeral loopback port with one router (`prefix`), an endpoint and
 * fake function per route (`app:route<N>` and `app:func<N>`), and an `app:openapi` entry with
 * `options.openapi` as its fields when given.
 */
export async function startTestServer(
  routes: RouteSpec[],
  options: { prefix?: string; service?: Record<string, unknown>; openapi?: Record<string, unknown> } = {},
): Promise<TestServer> {
  const { logger, lines } = captureLogger();
  const entries = [
    makeEntry("app:gateway", "http.service", { addr: "127.0.0.1:0", ...options.service }),
    makeEntry("app:api", "http.router", { prefix: options.prefix ?? "" }, { meta: { server: "gateway" } }),
  ];
  const functions: Record<string, object> = {};
  routes.forEach((route, index) => {
    entries.push(makeEntry(`app:func${index}`, "function.ts", { source: "inline", method: "handler", modules: route.modules ?? ["http"] }));
    const fields = { method: route.method, path: route.path, func: `func${index}`, ...route.fields };
    entries.push(makeEntry(`app:route${index}`, "http.endpoint", fields, { meta: { router: "api" } }));
    functions[`app:func${index}`] = fakeFunction(`app:func${index}`, route.handler, route.modules ?? ["http"], logger);
  });
  if (options.openapi) entries.push(makeEntry("app:openapi", "http.openapi", options.openapi, { meta: { router: "api" } }));
  const registry = makeRegistry(entries.filter((entry) => entry.kind !== "function.ts"));
  const components = createComponents(registry, functions, logger);
  const server = components.get("app:gateway") as HttpServer;
  await server.start();
  const { host, port } = server.address();
  return { server, url: `http://${host}:${port}`, logs: lines, stop: () => server.stop() };
}
