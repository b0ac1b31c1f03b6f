-- taskrt process runtime: Wippy's channels, channel.select, coroutine.spawn, time.after/ticker/
-- timer/sleep and the `process` global, for every call. Each call (a function call or a process)
-- runs under a scheduler of its own: its main function and the coroutines it spawns are tasks;
-- a task that must wait (a receive, a send on a full channel, a select, a sleep) yields BLOCK to
-- the scheduler, which runs the other tasks and, when none can run, waits on the host for the
-- next timer or message (a process's inbox and events come from there).
local host, AWAIT, BLOCK, co_create, co_resume, co_yield, co_status = ...
local setmetatable, getmetatable, type, error, select, tostring, pairs = setmetatable, getmetatable, type, error, select, tostring, pairs
local pack, unpack, random = table.pack, table.unpack, math.random

-- Resumes between polls of the host: a busy scheduler still takes messages and lets other calls run.
local TURN_EVERY = 256

-- Which call and task each coroutine belongs to: the call's own coroutine runs the main task;
-- spawned tasks and the coroutines code creates inherit the context they were made in.
local contexts = setmetatable({}, { __mode = "k" })
local running = coroutine.running
local new_scheduler -- defined with the scheduler below

-- The running coroutine's context. A call's own coroutine gets one the first time it needs it
-- (most calls never do); outside calls (the source file loading) there is none.
local function context()
  local co = running()
  local c = contexts[co]
  if c == nil and host.in_call() then
    local s = new_scheduler()
    c = { s = s, task = s.main }
    contexts[co] = c
  end
  return c
end
local function scheduler() local c = context(); return c and c.s end

-- queues ----------------------------------------------------------------------------------------

local function queue() return { first = 1, last = 0 } end
local function push(q, v) q.last = q.last + 1; q[q.last] = v end
local function shift(q)
  local i = q.first
  if i > q.last then return nil end
  local v = q[i]; q[i] = nil; q.first = i + 1
  return v
end
local function qlen(q) return q.last - q.first + 1 end

-- tasks -------------------------------------------------------------------------------------------

local function wake(task, ...)
  task.values = pack(...)
  if not task.main then push(task.sched.ready, task) end
end

-- The call's pid, asked of the host once: most calls (function calls) never need it.
local function pid_of(s)
  local pid = s.pid
  if pid == nil then
    pid = host.pid() or false
    s.pid = pid
  end
  return pid
end

local function running_task(what)
  local c = context()
  if not c then error(what .. " needs a running call (not while the source file loads)", 3) end
  return c.s, c.task
end

local wait_main -- defined with the scheduler below

-- Blocks the running task until wake() is called for it; returns what wake was given. The main
-- task runs the other tasks meanwhile; a spawned task yields to the main task's loop.
local function block()
  local c = context()
  if c.task.main then return wait_main(c.s) end
  return co_yield(BLOCK)
end

-- channels ------------------------------------------------------------------------------------

local Channel = { __name = "channel" }
Channel.__index = Channel

local function new_channel(size)
  return setmetatable({ size = size or 0, buf = queue(), recvq = queue(), sendq = queue(), closed = false }, Channel)
end

-- A waiter is live unless the select it belongs to has already completed.
local function next_live(q)
  while true do
    local w = shift(q)
    if not w then return nil end
    if not (w.sel and w.sel.done) then return w end
  end
end
local function has_live(q)
  for i = q.first, q.last do
    local w = q[i]
    if not (w.sel and w.sel.done) then return true end
  end
  return false
end

-- Completes waiter `w` with a value: a select gets its case, a plain op its results.
local function complete(w, value, ok)
  if w.sel then
    w.sel.done = true
    wake(w.task, { channel = w.ch, value = value, ok = ok })
  else
    wake(w.task, value, ok)
  end
end

local function check_channel(ch, method)
  if getmetatable(ch) ~= Channel then error("bad self for '" .. method .. "' (channel expected; call it as ch:" .. method .. "(...))", 3) end
end

-- Non-blocking attempts: return true plus results when the operation could complete now.
local function try_receive(ch)
  if ch.buf.first <= ch.buf.last then
    local v = shift(ch.buf)
    local w = next_live(ch.sendq)
    if w then push(ch.buf, w.value); complete(w, w.value, true) end
    return true, v, true
  end
  local w = next_live(ch.sendq)
  if w then
    complete(w, w.value, true)
    return true, w.value, true
  end
  if ch.closed then return true, nil, false end
  return false
end

local function try_send(ch, value)
  if ch.closed then error("send on closed channel", 3) end
  local w = next_live(ch.recvq)
  if w then complete(w, value, true); return true end
  if qlen(ch.buf) < ch.size then push(ch.buf, value); return true end
  return false
end

function Channel:send(value)
  check_channel(self, "send")
  if try_send(self, value) then return true end
  local _, task = running_task("channel:send")
  push(self.sendq, { task = task, value = value, ch = self })
  local _, ok = block()
  if ok == false then error("send on closed channel", 2) end
  return true
end

function Channel:receive()
  check_channel(self, "receive")
  local done, v, ok = try_receive(self)
  if done then return v, ok end
  local _, task = running_task("channel:receive")
  push(self.recvq, { task = task, ch = self })
  return block()
end

function Channel:close()
  check_channel(self, "close")
  if self.closed then return end
  self.closed = true
  while true do
    local w = next_live(self.recvq)
    if not w then break end
    complete(w, nil, false)
  end
  while true do
    local w = next_live(self.sendq)
    if not w then break end
    complete(w, w.value, false)
  end
end

function Channel:case_receive() check_channel(self, "case_receive"); return { ch = self, op = "receive" } end
function Channel:case_send(value) check_channel(self, "case_send"); return { ch = self, op = "send", value = value } end

-- Delivers without blocking into an unbounded channel (inbox, events, timers).
local function offer(ch, value)
  if ch.closed then return end
  local w = next_live(ch.recvq)
  if w then complete(w, value, true) else push(ch.buf, value) end
end

channel = {}
function channel.new(size)
  if size ~= nil and (math.type(size) ~= "integer" or size < 0) then
    error("bad argument #1 to 'new' (a buffer size: an integer >= 0, got " .. tostring(size) .. ")", 2)
  end
  return new_channel(size)
end

function channel.select(cases)
  if type(cases) ~= "table" then error("bad argument #1 to 'select' (table of cases expected, got " .. type(cases) .. ")", 2) end
  local n = #cases
  for i = 1, n do
    local c = cases[i]
    if type(c) ~= "table" or getmetatable(c.ch) ~= Channel then error("channel.select: case #" .. i .. " is not a case (use ch:case_receive() or ch:case_send(v))", 2) end
  end
  local start = n > 1 and random(n) or 1
  for k = 0, n - 1 do
    local c = cases[(start + k - 1) % n + 1]
    if c.op == "receive" then
      local done, v, ok = try_receive(c.ch)
      if done then return { channel = c.ch, value = v, ok = ok } end
    elseif try_send(c.ch, c.value) then
      return { channel = c.ch, value = c.value, ok = true }
    end
  end
  if cases.default then return { default = true, ok = true } end
  local _, task = running_task("channel.select")
  local sel = { done = false }
  for i = 1, n do
    local c = cases[i]
    if c.op == "receive" then push(c.ch.recvq, { task = task, ch = c.ch, sel = sel })
    else push(c.ch.sendq, { task = task, ch = c.ch, sel = sel, value = c.value }) end
  end
  local result = block()
  if result.ok == false and result.value ~= nil then error("send on closed channel", 2) end
  return result
end

-- timers ------------------------------------------------------------------------------------------

local function add_timer(s, timer)
  local timers = s.timers
  local i = #timers
  while i > 0 and timers[i].at > timer.at do timers[i + 1] = timers[i]; i = i - 1 end
  timers[i + 1] = timer
end

local function fire_timers(s)
  local timers = s.timers
  if #timers == 0 then return end
  local now = host.clock()
  while timers[1] and timers[1].at <= now do
    local t = table.remove(timers, 1)
    if not t.stopped then
      t.fire(t)
      if t.period and not t.stopped then
        t.at = t.at + t.period
        if t.at <= now then t.at = now + t.period end
        add_timer(s, t)
      end
    end
  end
end

local function timer_channel(ms, period)
  local s = scheduler()
  if not s then error("timers need a running call (not while the source file loads)", 3) end
  local ch = new_channel(1)
  local t = { at = host.clock() + ms, period = period, ch = ch }
  t.fire = function()
    -- Like Go's: a tick nobody has taken yet is not doubled.
    if qlen(ch.buf) == 0 then offer(ch, host.now()) end
  end
  add_timer(s, t)
  return ch, t
end

local Ticker = { __name = "time.Ticker" }
Ticker.__index = Ticker
function Ticker:channel() return self.ch end
Ticker.response = Ticker.channel
function Ticker:stop() local was = not self.timer.stopped; self.timer.stopped = true; return was end

local Timer = { __name = "time.Timer" }
Timer.__index = Timer
function Timer:channel() return self.ch end
Timer.response = Timer.channel
function Timer:stop() local was = not self.timer.stopped; self.timer.stopped = true; return was end
function Timer:reset(d)
  local ms, err = host.duration_ms(d, true)
  if not ms then return nil, err end
  self.timer.stopped = true
  local _, t = timer_channel(ms)
  t.ch = self.ch
  t.fire = self.timer.fire
  self.timer = t
  return true
end

local function extend_time(time)
  time.after = function(d)
    local ms, err = host.duration_ms(d, true)
    if not ms then return nil, err end
    return (timer_channel(ms))
  end
  time.ticker = function(d)
    local ms, err = host.duration_ms(d, true)
    if not ms then return nil, err end
    local ch, t = timer_channel(ms, ms)
    return setmetatable({ ch = ch, timer = t }, Ticker)
  end
  time.timer = function(d)
    local ms, err = host.duration_ms(d, true)
    if not ms then return nil, err end
    local ch, t = timer_channel(ms)
    return setmetatable({ ch = ch, timer = t }, Timer)
  end
  local native_sleep = time.sleep
  time.sleep = function(d)
    -- Outside a call there is no scheduler: the native sleep serves the source file itself.
    if not context() then return native_sleep(d) end
    if not coroutine.isyieldable() then
      error("sleep cannot wait here: it was called from inside a metamethod, an iterator or a sort comparator", 2)
    end
    local ms, err = host.duration_ms(d, false)
    if not ms then return nil, err end
    local ok, failure = pcall(Channel.receive, (timer_channel(ms)))
    if ok then return end
    if errors.is(failure, errors.CANCELED) then return nil, failure end
    error(failure, 0)
  end
end


-- the scheduler -------------------------------------------------------------------------------

local Message = { __name = "process.Message" }
Message.__index = Message
local Payload = { __name = "process.Payload" }
Payload.__index = Payload
function Message:topic() return self._topic end
function Message:from() return self._from end
function Message:payload() return setmetatable({ _data = self._data }, Payload) end
function Payload:data() return self._data end

local TERMINATED = {}

-- module objects as channels ---------------------------------------------------------------------
-- An events subscription's channel and a future's response channel are channels like any other:
-- a feed asks the host for the object's next value without blocking the call (host.feed), and the
-- answer arrives with the call's next wait as a delivery, which accept() offers to the channel.

local next_feed = 0
local fed = setmetatable({}, { __mode = "k" }) -- module object -> its channel
local patched = setmetatable({}, { __mode = "k" }) -- metatables' __index tables already patched

local function end_feed(s, id)
  local f = s.feeds[id]
  s.feeds[id] = nil
  s.nfeeds = s.nfeeds - 1
  Channel.close(f.ch)
end

-- The channel fed by `obj:method()`: once (a future's one answer) or until it answers nil, false.
local function feed_channel(obj, method, once)
  local ch = fed[obj]
  if ch then return ch end
  local s = scheduler()
  if not s then error("a module object's channel needs a running call (not while the source file loads)", 3) end
  ch = new_channel(0)
  fed[obj] = ch
  if not s.feeds then s.feeds = {}; s.nfeeds = 0 end
  next_feed = next_feed + 1
  s.feeds[next_feed] = { ch = ch, obj = obj, method = method, once = once }
  s.nfeeds = s.nfeeds + 1
  host.feed(next_feed, obj, method)
  return ch
end

local function accept_feed(s, d)
  local f = s.feeds and s.feeds[d.id]
  if not f then return end
  local v = d.values
  if type(v) == "table" and v[2] == true then
    offer(f.ch, v[1])
    if f.once then end_feed(s, d.id) else host.feed(d.id, f.obj, f.method) end
  else
    end_feed(s, d.id)
  end
end

-- Replaces methods of a module object's class, once per Lua state: `replacements[name](original)`.
local function patch(obj, replacements)
  local mt = getmetatable(obj)
  local index = type(mt) == "table" and mt.__index
  if type(index) ~= "table" or patched[index] then return end
  patched[index] = true
  for name, replace in pairs(replacements) do index[name] = replace(index[name]) end
end

local function fed_by(method, once)
  return function() return function(self) return feed_channel(self, method, once) end end
end
local SUBSCRIPTION = { channel = fed_by("next_event", false) }
local FUTURE = { response = fed_by("next_payload", true), channel = fed_by("next_payload", true) }

local function patching(fn, replacements)
  return function(...)
    local obj, err = fn(...)
    if obj ~= nil then patch(obj, replacements) end
    return obj, err
  end
end

local function extend_events(events)
  if not host.can_feed() then return end
  local subscribe = patching(events.subscribe, SUBSCRIPTION)
  events.subscribe = function(...)
    local sub, err = subscribe(...)
    -- A process's subscription lives as long as the process (a function call's, as long as the call).
    local s = sub ~= nil and scheduler()
    if s and pid_of(s) then host.own(sub, "close") end
    return sub, err
  end
end

local function extend_funcs(funcs)
  if not host.can_feed() then return end
  funcs.async = patching(funcs.async, FUTURE)
  funcs.new = patching(funcs.new, { async = function(async) return patching(async, FUTURE) end })
end

-- Hands what the host delivered to the process's channels.
local function accept(s, deliveries)
  if not deliveries then return end
  for i = 1, #deliveries do
    local d = deliveries[i]
    if d.k == "m" then
      if not s.inbox then s.inbox = new_channel(0) end
      offer(s.inbox, setmetatable({ _topic = d.topic, _from = d.from, _data = d.payload }, Message))
    elseif d.k == "e" then
      if not s.events then s.events = new_channel(0) end
      offer(s.events, d.event)
    elseif d.k == "f" then
      accept_feed(s, d)
    elseif d.k == "x" then
      s.terminated = d.reason or "terminated"
    end
  end
end

local function run_task(s, task)
  local values = task.values
  task.values = nil
  local r = pack(co_resume(task.co, unpack(values, 1, values.n)))
  -- A module call made by a task: wait on the host here, then hand the task its answer.
  while r[1] and r[2] == AWAIT and co_status(task.co) == "suspended" do
    local answer = pack(co_yield(AWAIT))
    r = pack(co_resume(task.co, unpack(answer, 1, answer.n)))
  end
  if not r[1] then error(r[2], 0) end
end

local function spawn_task(s, fn, ...)
  local task = { co = co_create(fn), sched = s }
  contexts[task.co] = { s = s, task = task }
  wake(task, ...)
  return task
end

-- The main task waits: run the others until it is woken, waiting on the host when none can run.
wait_main = function(s)
  local main = s.main
  local since_turn = 0
  while true do
    if s.terminated then error(s.terminated, 0) end
    local values = main.values
    if values then
      main.values = nil
      return unpack(values, 1, values.n)
    end
    local task = shift(s.ready)
    if task then
      run_task(s, task)
      since_turn = since_turn + 1
      if since_turn >= TURN_EVERY then
        since_turn = 0
        accept(s, host.turn())
      end
    else
      fire_timers(s)
      if qlen(s.ready) == 0 and not main.values then
        local wait
        if s.timers[1] then wait = s.timers[1].at - host.clock(); if wait < 0 then wait = 0 end end
        if not pid_of(s) and not wait and not (s.nfeeds and s.nfeeds > 0) then
          error("all coroutines are waiting and nothing can wake them (deadlock): a function call has no inbox", 0)
        end
        local deliveries, failure = host.wait(wait)
        if failure then error(failure, 0) end
        accept(s, deliveries)
        fire_timers(s)
      end
    end
  end
end

function coroutine.spawn(fn, ...)
  if type(fn) ~= "function" then error("bad argument #1 to 'spawn' (function expected, got " .. type(fn) .. ")", 2) end
  local s = scheduler()
  if not s then error("coroutine.spawn needs a running call (not while the source file loads)", 2) end
  spawn_task(s, fn, ...)
end

function coroutine.create(fn)
  local co = co_create(fn)
  contexts[co] = context()
  return co
end

new_scheduler = function()
  local s = { ready = queue(), timers = {} }
  s.main = { main = true, sched = s }
  return s
end

local function finish(T, ...)
  -- The engine reuses the coroutine for its next call, which must start without this one's scheduler.
  if contexts[T] ~= nil then contexts[T] = nil end
  return ...
end

-- Runs `fn(...)` in the call's own coroutine, which is the main task of the call's scheduler once
-- it has one (see context()).
local function run(fn, ...)
  local T = running()
  -- Called through an expression, so a traceback names it by where it is defined.
  return finish(T, (select(1, fn))(...))
end

-- process ---------------------------------------------------------------------------------------

local function in_process(what)
  local s = scheduler()
  if not s or not pid_of(s) then error(what .. ": not in a process (only a process.lua run as a process has an inbox and events)", 3) end
  return s
end

-- Channels live in one call: another process gets a copy of nothing useful, so say so.
local function channel_among(what, first, ...)
  for i = 1, select("#", ...) do
    if getmetatable((select(i, ...))) == Channel then
      return errors.new({ kind = errors.INVALID, message = what .. ": argument #" .. (first + i - 1) ..
        " is a channel, and channels cannot cross to another process (send messages instead)" })
    end
  end
end

process = { event = { CANCEL = "pid.cancel", EXIT = "pid.exit", LINK_DOWN = "pid.link.down" } }

function process.pid() local s = scheduler(); return s and pid_of(s) or nil end
function process.id() local s = scheduler(); return s and pid_of(s) or nil end

function process.inbox()
  local s = in_process("process.inbox")
  if not s.inbox then s.inbox = new_channel(0) end
  return s.inbox
end

function process.events()
  local s = in_process("process.events")
  if not s.events then s.events = new_channel(0) end
  return s.events
end

function process.send(destination, topic, ...)
  if type(topic) ~= "string" then return nil, errors.new({ kind = errors.INVALID, message = "process.send: topic must be a string, got " .. type(topic) }) end
  if topic:sub(1, 1) == "@" then return nil, errors.new({ kind = errors.INVALID, message = "process.send: topic '" .. topic .. "' is reserved (topics cannot start with @)" }) end
  local refused = channel_among("process.send", 3, ...)
  if refused then return nil, refused end
  local payload = ...
  if select("#", ...) > 1 then payload = { ... } end
  return host.send(destination, topic, payload)
end

local function spawner(name, monitor, link)
  return function(id, host_id, ...)
    local refused = channel_among(name, 3, ...)
    if refused then return nil, refused end
    return host.spawn(id, host_id, monitor, link, ...)
  end
end
process.spawn = spawner("process.spawn", false, false)
process.spawn_monitored = spawner("process.spawn_monitored", true, false)
process.spawn_linked = spawner("process.spawn_linked", false, true)
process.spawn_linked_monitored = spawner("process.spawn_linked_monitored", true, true)

function process.cancel(destination, reason) return host.control("cancel", destination, reason) end
function process.terminate(destination) return host.control("terminate", destination) end
function process.monitor(destination) return host.control("monitor", destination) end
function process.unmonitor(destination) return host.control("unmonitor", destination) end
function process.link(destination) return host.control("link", destination) end
function process.unlink(destination) return host.control("unlink", destination) end

function process.get_options() return { trap_links = host.trap_links() } end
function process.set_options(options)
  if type(options) ~= "table" then return nil, errors.new({ kind = errors.INVALID, message = "process.set_options: a table expected" }) end
  if options.trap_links ~= nil then host.trap_links(options.trap_links == true) end
  return true
end

process.registry = { LOCAL = 0 }
function process.registry.register(name, pid) return host.register(name, pid) end
function process.registry.lookup(name) return host.lookup(name) end
function process.registry.unregister(name) return host.unregister(name) end

return {
  -- The function a call runs: `fn` under a scheduler of its own.
  wrap = function(fn)
    return function(...) return run(fn, ...) end
  end,
  extend_time = extend_time,
  extend_events = extend_events,
  extend_funcs = extend_funcs,
}
