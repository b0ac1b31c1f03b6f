-- expect: {"kind":"string","bits":[7,1,6,-6,6,2],"floor":3,"long":"type T = {x: number}","label":"ok","hex":255.5,"closed":true}
-- Plain Lua 5.4 that looks like type syntax in places: it must reach lua byte for byte.
--[==[ local x: number = 1  type Fake = {a: string} ]==]
local type_of = type
local as = "as"
local interface = { type = "t" }
local function main()
    local kind <const> = type_of("x")
    local closed = false
    do
        local guard <close> = setmetatable({}, { __close = function() closed = true end })
    end
    local a, b = 3, 5
    local bits = { a | b ~ 1, a & b, a ~ b, ~b, a << 1 + 0, b >> 1 }
    local long = [[type T = {x: number}]]
    local s = "local y: string = 'z' -- not a comment"
    local t = { as = as, [interface.type] = s }
    if t.as ~= "as" then return nil end
    goto done
    ::done::
    return { kind = kind, bits = bits, floor = 7 // 2, long = long, label = #t.t > 0 and "ok", hex = 0xFF.8p0, closed = closed }
end
return { main = main }
