-- expect: {"balance":15,"label":"acct","callback":"called 2","keys":"ok"}
interface Named
    function name(self): string
end

interface Account : Named
    function deposit(self, amount: number): number
end

type Callback = fun(count: number): string
type Handler = (request: any, ...any) -> (boolean, string?)
type Frozen = readonly {limit: number}
type Keys = keyof(Frozen)
type Checker = (value: any) -> asserts value is string
type Pick<T> = T extends string ? string : number

local Account = {}
Account.__index = Account

function Account.new(label: string): Account
    return setmetatable({ label = label, balance = 0 }, Account)
end

function Account:deposit(amount: number): number
    self.balance = self.balance + amount
    return self.balance
end

function Account:name(): string
    return self.label
end

local function main()
    local account = Account.new("acct")
    account:deposit(10)
    local callback: Callback = function(count: number): string return "called " .. count end
    local frozen: Frozen = {limit = 1}
    local copy: typeof(frozen) = frozen
    return { balance = account:deposit(5), label = account:name(), callback = callback(2), keys = copy.limit == 1 and "ok" }
end

return { main = main }
