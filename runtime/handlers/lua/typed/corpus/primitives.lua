-- expect: {"n":3.5,"i":42,"s":"hello","b":true,"a":"anything","u":"table"}
local function main()
    local n: number = 3.5
    local i: integer = 42
    local s: string = "hello"
    local b: boolean = true
    local a: any = "anything"
    local u: unknown = {}
    local nothing: nil = nil
    return { n = n, i = i, s = s, b = b, a = a, u = type(u), nothing = nothing }
end

return { main = main }
