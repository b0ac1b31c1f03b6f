-- expect: {"given":7,"missing":0,"fallback":5}
local function process(x: number?): number
    if x ~= nil then
        return x
    end
    return 0
end

local function get_value(): number?
    return nil
end

local function main()
    local y: number? = nil
    local z: number? = 7
    local val = get_value() or 5
    return { given = process(z), missing = process(y), fallback = val }
end

return { main = main }
