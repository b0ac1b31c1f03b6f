-- expect: {"second":2,"words":"a,b","counted":3}
type StringArray = {string}
type StringMap = {[string]: number}

local function main()
    local arr: {number} = {1, 2, 3}
    local words: StringArray = {"a", "b"}
    local map: StringMap = {}
    map["x"] = #arr
    local list: number[] = arr
    return { second = list[2], words = table.concat(words, ","), counted = map.x }
end

return { main = main }
