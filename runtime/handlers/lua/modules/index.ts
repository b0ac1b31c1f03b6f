/**
 * @module handlers/lua/modules — the modules Lua's `require` can build, by name: the same twelve as
 * TypeScript handlers import, each a thin wrapper over its TypeScript module.
 */
import type { LuaModule } from "../module.ts";
import http from "./http.ts";
import json from "./json.ts";
import logger from "./logger.ts";
import queue from "./queue.ts";
import sql from "./sql.ts";
import time from "./time.ts";
import uuid from "./uuid.ts";
import funcs from "./funcs.ts";
import env from "./env.ts";
import registry from "./registry.ts";
import io from "./io.ts";
import events from "./events.ts";

export const LUA_MODULES: ReadonlyMap<string, LuaModule> = new Map([http, queue, sql, uuid, logger, time, json, funcs, env, registry, io, events].map((module) => [module.name, module]));
