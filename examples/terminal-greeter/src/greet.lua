local io = require("io")
local funcs = require("funcs")
local env = require("env")
local registry = require("registry")

local function main()
  local settings = registry.get("app:settings")
  local greeting = settings.data.greeting
  local args = io.args()
  if #args > 0 then
    io.print("arguments:", table.concat(args, ","))
  end
  local greeted = 0
  while true do
    io.write("name? ")
    local name = io.readline()
    if not name or name == "" then break end
    local loud, err = funcs.call("app:shout", name)
    if err then
      io.eprint("cannot shout:", err:message())
      return 1
    end
    greeted = greeted + 1
    env.set("VISITS", tostring(greeted))
    io.print(greeting .. ", " .. loud)
  end
  io.print("visits:", env.get("VISITS"))
  return greeted
end

return { main = main }
