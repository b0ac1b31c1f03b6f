-- expect: {"n":42,"s":"hello","greeting":"Hello, Alice","ok":"yes","error":"no","rendered":"Hello, Bob","nested":2}
type HasName = {name: string}
type Result<T, E> =
    {ok: true, value: T}
    | {ok: false, error: E}
type Pairs<K, V> = {[K]: {V}}
type Nested<T> = {items: Array<Map<string, T>>}

type LoadState =
    {status: "loading"}
    | {status: "loaded", data: HasName}
    | {status: "error", message: string}

local function identity<T>(x: T): T
    return x
end

local function greet<T: HasName>(obj: T): string
    return "Hello, " .. obj.name
end

local function render(state: LoadState): string
    if state.status == "loading" then
        return "Loading..."
    elseif state.status == "loaded" then
        return "Hello, " .. state.data.name
    end
    return "Error: " .. state.message
end

local first = function<T>(list: {T}): T?
    return list[1]
end

local function main()
    local n: number = identity(42)
    local s: string = identity("hello")
    local good: Result<string, string> = {ok = true, value = "yes"}
    local bad: Result<string, string> = {ok = false, error = "no"}
    local nested: Nested<number> = {items = {{a = 1}, {b = 2}}}
    return {
        n = n, s = s, greeting = greet({name = "Alice"}), ok = good.value, error = bad.error,
        rendered = render({status = "loaded", data = {name = first({"Bob"})}}), nested = #nested.items,
    }
end

return { main = main }
