/**
 * @module kinds/function-lua — `function.lua`: a Lua 5.4 function called by endpoints and consumers.
 */
import { defineLuaCodeKind } from "../handlers/lua/code-kind.ts";

export default defineLuaCodeKind("function.lua", "A Lua 5.4 function, called by endpoints and consumers.");
