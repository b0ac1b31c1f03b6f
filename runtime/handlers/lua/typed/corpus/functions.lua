-- expect: {"add":5,"quotient":3,"remainder":1,"fetched":"data:/x","failed":"bad url","double":8,"sum":10,"none":true}
local function add(a: number, b: number): number
    return a + b
end

local function div_mod(a: number, b: number): (number, number)
    return math.floor(a / b), a % b
end

local function fetch(url: string): (string?, string?)
    if url:sub(1, 1) ~= "/" then
        return nil, "bad url"
    end
    return "data:" .. url, nil
end

local double: (number) -> number = function(x: number): number
    return x * 2
end

local function sum(...: number): number
    local total: number = 0
    for _, v in ipairs({...}) do
        total = total + v
    end
    return total
end

local function nothing(): ()
end

local function main()
    local q, r = div_mod(7, 2)
    local data, _ = fetch("/x")
    local _, err = fetch("x")
    return { add = add(2, 3), quotient = q, remainder = r, fetched = data, failed = err, double = double(4), sum = sum(1, 2, 3, 4), none = nothing() == nil }
end

return { main = main }
