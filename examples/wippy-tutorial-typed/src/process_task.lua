-- The queue worker: runs one task's action and stores its result.
local queue = require("queue")
local sql = require("sql")
local logger = require("logger")
local time = require("time")
local json = require("json")

type Task = {
    id: string,
    action: "uppercase" | "sum" | string,
    data: {text: string?, numbers: {number}?},
    created_at: integer,
}

type Output = {output: string | number}

type Action = (data: {text: string?, numbers: {number}?}) -> Output

local function total<T: number>(numbers: {T}): number
    local sum: number = 0
    for _, n in ipairs(numbers) do
        sum = sum + n
    end
    return sum
end

local ACTIONS: {[string]: Action} = {
    uppercase = function(data): Output
        return {output = string.upper(data.text or "")}
    end,
    sum = function(data): Output
        return {output = total(data.numbers or {})}
    end,
}

local function run(task: Task): Output
    local action: Action? = ACTIONS[task.action]
    if action == nil then
        return {output = "processed"}
    end
    return action(task.data)
end

local function store(task: Task, result: Output): (boolean, string?)
    local db, db_err = sql.get("app:db")
    if db_err then
        logger:error("database unavailable", {error = tostring(db_err)})
        return false
    end

    local insert = sql.builder.insert("tasks")
        :columns("id", "payload", "status", "result", "created_at", "processed_at")
        :values(task.id, json.encode(task), "completed", json.encode(result), task.created_at, os.time())
    local _, exec_err = insert:run_with(db):exec()
    db:release()

    if exec_err then
        logger:error("failed to store result", {error = tostring(exec_err)})
        return false
    end
    return true
end

local function main(task: Task): boolean
    local _, msg_err = queue.message()
    if msg_err then
        logger:error("failed to get message", {error = tostring(msg_err)})
        return false
    end

    logger:info("processing task", {id = task.id, action = task.action})
    time.sleep("100ms")

    if not store(task, run(task)) then
        return false
    end
    logger:info("task completed", {id = task.id})
    return true
end

return { main = main }
