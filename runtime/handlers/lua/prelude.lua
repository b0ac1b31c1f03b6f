-- taskrt prelude: runs once in every Lua state, before the entry's source. It builds Wippy's
-- globals (errors, require), makes nested coroutines pass host waits through, and removes what a
-- handler must not reach (files, processes, the environment, loading code, the debug library).
local natives = ...
local registry = debug.getregistry()
local getinfo = debug.getinfo
local setmetatable, getmetatable, type, tostring, error = setmetatable, getmetatable, type, tostring, error

-- Error objects, as Wippy's: tostring(err), err:message(), err:kind(), err:retryable() ------------

local Error = { __name = "taskrt.error" }
Error.__index = Error
Error.__tostring = function(self) return self._message end
function Error:message() return self._message end
function Error:kind() return self._kind end
function Error:retryable() return self._retryable end
function Error:details() return self._details end
function Error:stack() return self._where end
registry["taskrt.error"] = Error

local function where(level)
  local info = getinfo(level + 1, "Sl")
  if info and info.currentline and info.currentline > 0 then return info.short_src .. ":" .. info.currentline .. ":" end
end

local KINDS = { "UNKNOWN", "INVALID", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "TIMEOUT",
  "CANCELED", "UNAVAILABLE", "INTERNAL", "CONFLICT", "RATE_LIMITED" }

errors = {}
for _, kind in ipairs(KINDS) do errors[kind] = kind end

function errors.new(spec)
  if type(spec) == "table" and getmetatable(spec) ~= Error then
    return setmetatable({ _message = tostring(spec.message or ""), _kind = spec.kind or "UNKNOWN",
      _retryable = spec.retryable == true, _details = spec.details, _where = where(2) }, Error)
  end
  return setmetatable({ _message = tostring(spec), _kind = "UNKNOWN", _retryable = false, _where = where(2) }, Error)
end

function errors.wrap(err, message)
  local inner = getmetatable(err) == Error and err or errors.new(err)
  return setmetatable({ _message = message .. ": " .. inner._message, _kind = inner._kind,
    _retryable = inner._retryable, _details = inner._details, _where = where(2), _cause = inner }, Error)
end

function errors.is(err, kind)
  return getmetatable(err) == Error and err._kind == kind
end

-- sql.NULL: a value that arrives in JavaScript as null (a nil would end the params array) -------

registry["taskrt.null"] = setmetatable({}, { __name = "sql.NULL", __tostring = function() return "sql.NULL" end })

-- Host waits through nested coroutines -----------------------------------------------------------
-- A module call that waits (time.sleep, db:query) yields AWAIT from its coroutine. When that is a
-- coroutine the handler made itself, the handler's resume would receive AWAIT instead of the host:
-- resume and wrap pass it up to the handler's own coroutine, which the engine resumes once the
-- wait is over, and hand the results back down.

local AWAIT = setmetatable({}, { __name = "taskrt.await" })
registry["taskrt.await"] = AWAIT
-- A channel operation that must wait yields BLOCK to its call's scheduler (process/runtime.lua).
local BLOCK = setmetatable({}, { __name = "taskrt.block" })
local co_create, co_resume, co_yield, co_status = coroutine.create, coroutine.resume, coroutine.yield, coroutine.status

local function forward(co, ok, first, ...)
  if ok and (first == AWAIT or first == BLOCK) and co_status(co) == "suspended" then
    return forward(co, co_resume(co, co_yield(first)))
  end
  return ok, first, ...
end

function coroutine.resume(co, ...)
  return forward(co, co_resume(co, ...))
end

local function unwrap(ok, ...)
  if ok then return ... end
  error((...), 0)
end

function coroutine.wrap(fn)
  local co = coroutine.create(fn)
  return function(...) return unwrap(forward(co, co_resume(co, ...))) end
end

-- Module calls served by another thread answer a raise as RAISE, message (see native.ts) --------

registry["taskrt.raise"] = setmetatable({}, { __name = "taskrt.raise" })

-- require: declared modules only ------------------------------------------------------------------

local loaded = {}
-- Adds timers, tickers and Durations to time, channels to events and funcs (process/runtime.lua).
local extenders = {}
local STANDARD = { string = string, table = table, math = math, coroutine = coroutine, os = os,
  utf8 = utf8, errors = errors }
local load_module = natives.load_module

function require(name)
  if type(name) ~= "string" then
    error("bad argument #1 to 'require' (string expected, got " .. type(name) .. ")", 2)
  end
  local module = loaded[name] or STANDARD[name]
  if module ~= nil then return module end
  local value, message = load_module(name)
  if value == nil then error(message, 2) end
  local extend = extenders[name]
  if extend then extend(value) end
  loaded[name] = value
  return value
end

-- print and warn: lines for the log, never raw writes to stdout (the log stream) -----------------

local host_print, select, concat = natives.print, select, table.concat

function print(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  host_print("info", concat(parts, "\t"))
end

function warn(first, ...)
  -- "@on" and "@off" switch Lua's own warnings; here every warning is logged.
  if select("#", ...) == 0 and type(first) == "string" and first:sub(1, 1) == "@" then return end
  host_print("warn", concat({ first, ... }))
end

-- Channels, coroutine.spawn, timers and the process global -----------------------------------------

local process_runtime = load(natives.process_source, "=taskrt.process")(natives.process_host, AWAIT, BLOCK, co_create, co_resume, co_yield, co_status)
extenders.time = process_runtime.extend_time
extenders.events = process_runtime.extend_events
extenders.funcs = process_runtime.extend_funcs

-- Instances of the source, one per process: each runs the compiled file again in globals of its own.

local private_load, dump, rawget_G = load, string.dump, _G
local source_bytecode
local INSTANCE_GLOBALS = { __index = rawget_G }

local function keep_source(chunk)
  source_bytecode = dump(chunk)
end

local function instantiate(method)
  local chunk = assert(private_load(source_bytecode, nil, "b", setmetatable({}, INSTANCE_GLOBALS)))
  local exports = chunk()
  local fn = type(exports) == "table" and exports[method]
  if type(fn) ~= "function" then error("it did not return its method '" .. method .. "' this time", 0) end
  return process_runtime.wrap(fn)
end

-- The sandbox ---------------------------------------------------------------------------------------

io, debug, package, load, loadfile, dofile, loadstring = nil, nil, nil, nil, nil, nil, nil
os.execute, os.exit, os.remove, os.rename, os.tmpname, os.getenv, os.setlocale = nil, nil, nil, nil, nil, nil, nil
string.dump = nil

-- What the engine itself uses -------------------------------------------------------------------------

return {
  wrap = process_runtime.wrap,
  keep_source = keep_source,
  instantiate = instantiate,
  -- "create_task.lua:5": where a handler function is defined, for errors it returns.
  describe = function(fn)
    local info = getinfo(fn, "S")
    return info.short_src .. ":" .. info.linedefined
  end,
}
