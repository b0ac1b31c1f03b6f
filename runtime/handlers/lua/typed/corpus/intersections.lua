-- expect: {"name":"Alice","age":30,"failed":"stop here"}
type Named = {name: string}
type Aged = {age: number}
type Person = Named & Aged

function fail(msg: string): never
    error(msg, 0)
end

local function main()
    local p: Person = {name = "Alice", age = 30}
    local ok, err = pcall(fail, "stop here")
    return { name = p.name, age = p.age, failed = not ok and err }
end

return { main = main }
