/**
 * @module taskrt — the public API: handler modules, the runtime entry points, and the kind
 * contract for plugging in new kinds.
 */
export { http } from "./modules/http.ts";
export { queue, type Message, type PublishSettings, type UniquePublishSettings, type PublishOutcome, type Headers } from "./modules/queue.ts";
export { sql, type BatchBuilder, type Database, type Executor, type Row } from "./modules/sql.ts";
export { uuid } from "./modules/uuid.ts";
export { logger } from "./modules/logger.ts";
export { time } from "./modules/time.ts";
export { json } from "./modules/json.ts";
export { funcs, Future, Executor as FunctionExecutor } from "./modules/funcs.ts";
export { env } from "./modules/env.ts";
export { io } from "./modules/io.ts";
export { events, Subscription, type BusEvent } from "./modules/events.ts";
export { registry, type RegistryEntry } from "./modules/registry.ts";
export { startRuntime, checkRegistry, Runtime, type RuntimeOptions } from "./runtime.ts";
export type { Component } from "./contracts/component.ts";
export type { BuildContext } from "./contracts/build-context.ts";
export { defineKind, type KindDefinition, type ReferenceField } from "./contracts/kind-definition.ts";
export type { Entry, Registry } from "./registry/entry.ts";
export type { JsonSchema } from "./registry/schemas.ts";
export { serveRoute, type HttpRoute } from "./http/custom-route.ts";
export { TaskrtError, RegistryError, type Problem } from "./errors.ts";
