-- expect: {"name":"alice","age":25,"host":"localhost","port":8080,"timeout":"unset"}
type User = {name: string, age: number}

type Config = {
    host: string,
    port: number,
    timeout?: number,
    debug?: boolean
}

type Task = {id: string, data: {[string]: any}?}

local function main()
    local u: User = {name = "alice", age = 25}
    local cfg: Config = {host = "localhost", port = 8080}
    local task: Task = {id = "t1"}
    return { name = u.name, age = u.age, host = cfg.host, port = cfg.port, timeout = cfg.timeout or "unset", task = task.data }
end

return { main = main }
