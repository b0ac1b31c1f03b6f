-- GET /tasks[?status=…]: the latest hundred tasks, newest first.
local http = require("http")
local sql = require("sql")

type TaskRow = {
    id: string,
    payload: string,
    status: string,
    result: string?,
    created_at: integer,
    processed_at: integer?,
}

type Listing = {tasks: {TaskRow}, count: integer}

local function fail(res: any, message: string): nil
    res:set_status(http.STATUS.INTERNAL_SERVER_ERROR)
    res:write_json({error = message})
    return nil
end

local function handler(): (nil, string?)
    local req, _ = http.request()
    local res, _ = http.response()
    if not req or not res then
        return nil, "failed to get HTTP context"
    end

    local db, db_err = sql.get("app:db")
    if db_err then
        return fail(res, "database unavailable")
    end

    local status_filter: string? = req:query("status")
    local query = sql.builder.select("id", "payload", "status", "result", "created_at", "processed_at")
        :from("tasks")
        :order_by("created_at DESC")
        :limit(100)
    if status_filter then
        query = query:where({status = status_filter})
    end

    local rows: {TaskRow}?, query_err = query:run_with(db):query()
    db:release()
    if query_err then
        return fail(res, "query failed")
    end

    local listing: Listing = {tasks = rows!, count = #(rows :: {TaskRow})}
    res:set_status(http.STATUS.OK)
    res:write_json(listing)
    return nil
end

return { handler = handler }
