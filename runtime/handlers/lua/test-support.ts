/**
 * @module handlers/lua/test-support — for the Lua handler tests: an engine from inline code, call
 * contexts with fake or in-memory services, and a fake HTTP exchange and queue delivery.
 */
import { TaskrtError } from "../../errors.ts";
import type { Headers, QueueHandle, QueueMessage, UniquePublishOptions } from "../../drivers/queue/driver.ts";
import type { SqlDatabase } from "../../drivers/sql/driver.ts";
import { SqliteDatabase } from "../../drivers/sql/sqlite.ts";
import path from "node:path";
import type { RuntimeServices } from "../../contracts/runtime-services.ts";
import type { BuildContext } from "../../contracts/build-context.ts";
import type { Entry } from "../../registry/entry.ts";
import { projectSchemas } from "../../registry/schemas.ts";
import { createLogger, type Logger } from "../../logger.ts";
import { runInContext, type CallContext, type HttpExchange, type MessageScope } from "../../modules/context.ts";
import type { CallResult } from "../handler.ts";
import { LuaEngine } from "./engine.ts";
import { LUA_MODULES } from "./modules/index.ts";

export const ALL_MODULES = ["http", "queue", "sql", "uuid", "logger", "time", "json"];

export interface TestEngineOptions {
  modules?: string[];
  maxRunMs?: number;
  fileName?: string;
  entryId?: string;
}

export function createTestEngine(code: string, options: TestEngineOptions = {}): Promise<LuaEngine> {
  return LuaEngine.create({
    entryId: options.entryId ?? "app:test",
    code,
    fileName: "fileName" in options ? options.fileName : "test.lua",
    modules: new Set(options.modules ?? ALL_MODULES),
    library: LUA_MODULES,
    maxRunMs: options.maxRunMs ?? 5000,
  });
}

export interface PublishedMessage {
  queueId: string;
  body: unknown;
  headers: Headers;
  /** Set by a publish with a unique_key. */
  uniqueKey?: string;
  uniqueForMs?: number;
}

/** Services with named SQLite databases (opened on first use) and queues that record what is published. */
export class TestServices implements RuntimeServices {
  readonly published: PublishedMessage[] = [];
  /** Queues a handler paused (and has not resumed). */
  readonly paused = new Set<string>();
  readonly databases = new Map<string, SqliteDatabase>();

  constructor(
    private readonly databaseIds: string[] = ["app:db"],
    private readonly queueIds: string[] = ["app:tasks_queue"],
  ) {}

  async openDatabases(): Promise<void> {
    for (const id of this.databaseIds) {
      const database = new SqliteDatabase({ id, file: ":memory:", busyTimeoutMs: 1000, synchronous: "NORMAL", closeTimeoutMs: 1000 });
      await database.open();
      this.databases.set(id, database);
    }
  }

  async close(): Promise<void> {
    for (const database of this.databases.values()) await database.close();
  }

  database(id: string): SqlDatabase {
    const database = this.databases.get(id);
    if (!database) throw new TaskrtError("E_DB_NOT_FOUND", `database ${id} not found`);
    return database;
  }

  queue(id: string): QueueHandle {
    if (!this.queueIds.includes(id)) throw new TaskrtError("E_QUEUE_NOT_FOUND", `queue ${id} not found`);
    const published = this.published;
    const paused = this.paused;
    return {
      id,
      async publish(body: unknown, headers: Headers = {}) {
        published.push({ queueId: id, body, headers });
        return `message-${published.length}`;
      },
      async publishUnique(body: unknown, headers: Headers, options: UniquePublishOptions) {
        const holder = published.findIndex((message) => message.uniqueKey === options.uniqueKey);
        if (holder >= 0) return { id: `message-${holder + 1}`, duplicate: true };
        published.push({ queueId: id, body, headers, uniqueKey: options.uniqueKey, uniqueForMs: options.uniqueForMs });
        return { id: `message-${published.length}`, duplicate: false };
      },
      consume: () => Promise.reject(new Error("not in tests")),
      fail: () => Promise.reject(new Error("not in tests")),
      stats: () => Promise.resolve({ ready: published.length, inFlight: 0, delayed: 0, dead: 0 }),
      deadLetters: () => undefined,
      pause: async () => void paused.add(id),
      resume: async () => void paused.delete(id),
      isPaused: async () => paused.has(id),
      listInFlight: () => Promise.reject(new Error("not in tests")),
      purge: () => Promise.reject(new Error("not in tests")),
      browse: () => Promise.reject(new Error("not in tests")),
      promote: () => Promise.reject(new Error("not in tests")),
      remove: () => Promise.reject(new Error("not in tests")),
      refusal: () => "not in tests",
    };
  }
}

export interface TestContextOptions {
  entryId?: string;
  modules?: string[];
  services?: RuntimeServices;
  logLines?: string[];
  http?: HttpExchange;
  message?: MessageScope;
  signal?: AbortSignal;
}

export function testContext(options: TestContextOptions = {}): CallContext {
  const lines = options.logLines ?? [];
  const logger: Logger = createLogger({ level: "debug", format: "json", sink: { write: (line) => void lines.push(line) } });
  const entryId = options.entryId ?? "app:test";
  return {
    entryId,
    modules: new Set(options.modules ?? ALL_MODULES),
    services: options.services ?? new TestServices([], []),
    logger: logger.forEntry(entryId),
    http: options.http,
    message: options.message,
    signal: options.signal,
  };
}

/** Calls `method` of `engine` inside `context`, as the Lua callable does. */
export function callLua(engine: LuaEngine, method: string, args: readonly unknown[] = [], context: CallContext = testContext()): Promise<CallResult> {
  return runInContext(context, () => engine.callMethod(engine.method(method), args, context.signal));
}

export function fakeExchange(request: { method?: string; url?: string; params?: Record<string, string>; headers?: Record<string, string>; body?: string } = {}): HttpExchange {
  const url = new URL(request.url ?? "http://localhost/tasks");
  return {
    request: {
      method: request.method ?? "GET",
      path: url.pathname,
      url,
      params: request.params ?? {},
      headers: new globalThis.Headers(request.headers ?? {}),
      body: request.body === undefined ? undefined : new TextEncoder().encode(request.body),
      remoteAddr: "127.0.0.1:50000",
      maxJsonDepth: 128,
      bodyCheckedAsJson: false,
    },
    response: { status: 200, headers: {}, chunks: [], handled: false },
  };
}

/** The written body of a fake exchange, as text. */
export function responseText(exchange: HttpExchange): string {
  return exchange.response.chunks.map((chunk) => (typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk))).join("");
}

export function fakeDelivery(message: Partial<QueueMessage> = {}): MessageScope & { settlements: string[] } {
  const settlements: string[] = [];
  const scope: MessageScope & { settlements: string[] } = {
    message: { id: "m-1", body: {}, headers: {}, attempts: 1, ...message },
    settled: undefined,
    settlements,
    async ack() {
      if (scope.settled) throw new TaskrtError("E_ALREADY_SETTLED", "message already settled");
      scope.settled = "ack";
      settlements.push("ack");
    },
    async nack() {
      if (scope.settled) throw new TaskrtError("E_ALREADY_SETTLED", "message already settled");
      scope.settled = "nack";
      settlements.push("nack");
    },
    async progress(value) {
      settlements.push(`progress ${JSON.stringify(value)}`);
    },
  };
  return scope;
}

/**
 * A `function.lua` / `process.lua` entry as the loader and validator would hand it over: `source`
 * a `file:///absolute` path under `root` (or inline code), schema defaults filled in.
 */
export function luaEntry(kind: "function.lua" | "process.lua", name: string, root: string, fields: Record<string, unknown>): Entry {
  const location = { file: path.join(root, "_index.yaml"), line: 7, column: 5 };
  const document: Record<string, unknown> = { name, kind, ...fields };
  if (typeof document.source === "string" && document.source.startsWith("file://")) {
    document.source = `file://${path.resolve(root, document.source.slice("file://".length))}`;
  }
  const validate = projectSchemas().validator(kind)!;
  if (!validate(document)) throw new Error(`bad test entry ${name}: ${JSON.stringify(validate.errors)}`);
  const { name: _name, kind: _kind, ...data } = document;
  return { id: `app:${name}`, namespace: "app", name, kind, meta: {}, data, file: location.file, location, locate: () => location };
}

export function buildContext(root: string, services: RuntimeServices = new TestServices([], []), logLines: string[] = []): BuildContext {
  return {
    registry: { root, entries: [], byId: new Map() },
    logger: createLogger({ level: "debug", format: "json", sink: { write: (line) => void logLines.push(line) } }),
    services,
    component: () => {
      throw new Error("no other components in Lua handler tests");
    },
  };
}
