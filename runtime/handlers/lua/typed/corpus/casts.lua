-- expect: {"name":"carol","same":true,"asserted":"carol","count":3,"skipped":2}
type User = {name: string}

local function get_data(): any
    return {name = "carol"}
end

local function main()
    local data: any = get_data()
    local user = data :: User
    local other = data as User
    local maybe: User? = user
    local name = (maybe!).name
    local count, skipped = 0, 0
    for i = 1, 5 do
        if i % 2 == 0 then
            skipped = skipped + 1
            goto continue
        end
        count = count + (i :: number) // i
        ::continue::
    end
    return { name = user.name, same = user == other, asserted = name, count = count, skipped = skipped }
end

return { main = main }
