/**
 * @module kinds/process-lua — `process.lua`: a Lua 5.4 process, run by a `process.service`.
 */
import { defineLuaCodeKind } from "../handlers/lua/code-kind.ts";

export default defineLuaCodeKind("process.lua", "A Lua 5.4 process: an actor with a pid, an inbox and events, run by a process.service or spawned by another process.");
