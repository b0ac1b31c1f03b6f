-- POST /tasks: validates the body, queues the task, answers 202 with its id.
local http = require("http")
local queue = require("queue")
local uuid = require("uuid")

type TaskRequest = {
    action: string?,
    data: {[string]: any}?,
}

type Task = {
    id: string,
    action: string,
    data: {[string]: any},
    created_at: integer,
}

type Reply = {id: string, status: "queued"} | {error: string}

local function reply(res: any, status: integer, body: Reply): nil
    res:set_status(status)
    res:write_json(body)
    return nil
end

local function handler(): (nil, string?)
    local req, _ = http.request()
    local res, _ = http.response()
    if not req or not res then
        return nil, "failed to get HTTP context"
    end

    local body: TaskRequest?, parse_err: any = req:body_json()
    if parse_err then
        return reply(res, http.STATUS.BAD_REQUEST, {error = "invalid JSON"})
    end

    local request = body :: TaskRequest
    if not request.action then
        return reply(res, http.STATUS.BAD_REQUEST, {error = "action required"})
    end

    local task: Task = {
        id = uuid.v4() as string,
        action = request.action!,
        data = request.data or {},
        created_at = os.time(),
    }

    local _, err = queue.publish("app:tasks_queue", task)
    if err then
        return reply(res, http.STATUS.INTERNAL_SERVER_ERROR, {error = "failed to queue task"})
    end

    return reply(res, http.STATUS.ACCEPTED, {id = task.id, status = "queued"})
end

return { handler = handler }
