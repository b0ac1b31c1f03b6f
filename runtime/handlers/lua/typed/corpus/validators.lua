-- expect: {"x":50,"email":"test@example.com","age":30,"scores":2,"id":1}
type User = {
    age: number @min(0) @max(150),
    name: string @min_len(1) @max_len(100)
}

local function main()
    local x: number @min(0) @max(100) = 50
    local email: string @pattern("^.+@.+$") = "test@example.com"
    local user: User = {age = 30, name = "dee"}
    local scores: {number @min(0) @max(100)} = {85, 90}
    local id: number @min(1) | string @min_len(1) = 1
    return { x = x, email = email, age = user.age, scores = #scores, id = id }
end

return { main = main }
