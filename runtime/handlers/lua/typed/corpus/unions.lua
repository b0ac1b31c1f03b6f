-- expect: {"number":42,"string":"HI","status":"active"}
type Status = "pending" | "active" | "done"
type Id = number | string

local function describe(val: number | string): number | string
    if type(val) == "number" then
        return val + 1
    else
        return val:upper()
    end
end

local function main()
    local s: Status = "active"
    local id: Id = 41
    return { number = describe(id), string = describe("hi"), status = s }
end

return { main = main }
