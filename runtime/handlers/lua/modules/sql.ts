/**
 * @module handlers/lua/modules/sql — Lua's `sql` module (Wippy's API) over the TypeScript `sql`
 * module: `sql.get(id)` → a database object (`db:query`, `db:execute`, `db:begin`, `db:release`),
 * and `sql.builder` with snake_case methods. Handles and open transactions are released (rolled
 * back) when the handler returns, as Wippy does on cleanup.
 */
import { AsyncResource } from "node:async_hooks";
import { TaskrtError } from "../../../errors.ts";
import { sql, type Database, type ExecResult, type Executor } from "../../../modules/sql.ts";
import { LUA_NULL } from "../engine.ts";
import { defineLuaClass, handle, handleArgument, type LuaClass, type LuaMethod } from "../handles.ts";
import { defineLuaModule } from "../module.ts";
import { LuaRaise, type LuaArguments, type LuaCall, type NativeFunction } from "../native.ts";
import { LUA_TYPE } from "../wasm.ts";
import { addOpenTransaction, openTransaction, removeOpenTransaction, type OpenTransaction } from "./call-transactions.ts";

/** `{last_insert_id, rows_affected}`, Wippy's names; no last_insert_id when the statement made none. */
function execResult(result: ExecResult): Record<string, number | null> {
  return { last_insert_id: result.lastInsertId, rows_affected: result.rowsAffected };
}

/** Statement parameters: an array table, or nothing (Wippy refuses other values). */
function paramsArgument(args: LuaArguments, position: number): unknown[] | undefined {
  if (args.isNil(position)) return undefined;
  if (args.type(position) !== LUA_TYPE.TABLE) {
    throw new TaskrtError("E_LUA_ARGUMENT", `invalid params type: expected an array table such as {1, "x"}, got ${args.typeName(position)}`);
  }
  const params = args.value(position);
  if (!Array.isArray(params)) throw new TaskrtError("E_LUA_ARGUMENT", "invalid params type: expected an array table such as {1, \"x\"}, got a table with named keys");
  return params;
}

function executorMethods<T>(executor: (self: T, args: LuaArguments) => Executor): Record<string, LuaMethod<T>> {
  return {
    query: (self, args) => executor(self, args).query(args.string(2), paramsArgument(args, 3)).then((rows) => [rows]),
    execute: (self, args) => executor(self, args).execute(args.string(2), paramsArgument(args, 3)).then((result) => [execResult(result)]),
  };
}

// ---- transactions -----------------------------------------------------------------------------

const ROLLBACK = Symbol("rollback");

interface TransactionState extends OpenTransaction {
  executor: Executor;
  open: boolean;
  /** Commit (true) or roll back (false), once. */
  decide(commit: boolean): void;
  /** Settles when the transaction has committed or rolled back. */
  outcome: Promise<void>;
}

interface DatabaseState {
  id: string;
  database: Database;
}

/**
 * A statement sent through `db` while the same call holds a transaction on that database joins
 * it, as TypeScript handlers' statements do on SQLite: waiting for the transaction to end would
 * wait forever, since only this call can end it.
 */
function databaseExecutor(self: DatabaseState, args: LuaArguments): Executor {
  const open = openTransaction(args.call, self.id) as TransactionState | undefined;
  return open?.open ? open.executor : self.database;
}

/**
 * `db:begin()` over the TypeScript module's `transaction(fn)`: `fn` waits for the Lua code's
 * commit or rollback, so the transaction stays open across the handler's statements. One left
 * open when the handler returns is rolled back. `fn`'s async context is kept (`inside`): the
 * call's publishes run there (call-transactions.ts), as a TypeScript handler's inside `fn` do.
 */
function begin(self: DatabaseState, call: LuaCall | undefined): Promise<TransactionState> {
  if ((openTransaction(call, self.id) as TransactionState | undefined)?.open) {
    throw new TaskrtError("E_TX_OPEN", `a transaction on ${self.id} is already open in this handler: commit or roll it back first`);
  }
  return new Promise((resolve, reject) => {
    let decide!: (commit: boolean) => void;
    const decision = new Promise<boolean>((settle) => (decide = settle));
    const state: TransactionState = {
      databaseId: self.id,
      executor: undefined as unknown as Executor,
      inside: (work) => work(),
      open: true,
      decide,
      outcome: Promise.resolve(),
    };
    state.outcome = self.database
      .transaction(async (executor) => {
        state.executor = executor;
        state.inside = AsyncResource.bind(<T>(work: () => T): T => work());
        if (call) addOpenTransaction(call, state);
        resolve(state);
        if (!(await decision)) throw ROLLBACK;
      })
      .then(
        () => undefined,
        (error: unknown) => {
          reject(error); // no-op once begin resolved
          if (error !== ROLLBACK) throw error;
        },
      );
    state.outcome.catch(() => {}); // observed by commit; never an unhandled rejection
    call?.defer(() => (state.open ? finish(state, call, false).catch(() => {}) : undefined));
  });
}

function finish(state: TransactionState, call: LuaCall | undefined, commit: boolean): Promise<readonly unknown[]> {
  if (!state.open) throw new TaskrtError("E_TX_DONE", "transaction already committed or rolled back");
  state.open = false;
  removeOpenTransaction(call, state);
  state.decide(commit);
  return state.outcome.then(() => [true]);
}

function openExecutor(state: TransactionState): Executor {
  if (!state.open) throw new TaskrtError("E_TX_DONE", "transaction already committed or rolled back");
  return state.executor;
}

const TransactionClass: LuaClass<TransactionState> = defineLuaClass<TransactionState>("sql.Transaction", "tx", {
  ...executorMethods(openExecutor),
  commit: (self, args) => finish(self, args.call, true),
  rollback: (self, args) => finish(self, args.call, false),
  db_type: (self) => [self.executor.type()],
});

// ---- databases --------------------------------------------------------------------------------

const DatabaseClass: LuaClass<DatabaseState> = defineLuaClass<DatabaseState>("sql.DB", "db", {
  ...executorMethods(databaseExecutor),
  type: (self) => [self.database.type()],
  begin: (self, args) => begin(self, args.call).then((state) => [handle(TransactionClass, state)]),
  release: (self) => {
    self.database.release();
    return [true];
  },
});

// ---- the builder ------------------------------------------------------------------------------

type AnyBuilder = Record<string, (...args: unknown[]) => unknown>;

/** Lua method → TypeScript method, for the chaining methods. */
const CHAIN_METHODS: Record<string, string> = {
  from: "from",
  into: "into",
  table: "table",
  where: "where",
  order_by: "orderBy",
  limit: "limit",
  offset: "offset",
  columns: "columns",
  values: "values",
  set: "set",
  set_map: "setMap",
  returning: "returning",
  placeholder_format: "placeholder",
};

/** Builder arguments: a nil in `values(a, nil, c)` is a NULL. */
function builderArguments(args: LuaArguments): unknown[] {
  return args.rest(2).map((value) => (value === undefined ? null : value));
}

function chain(luaName: string, tsName: string): LuaMethod<AnyBuilder> {
  return (self, args) => {
    const method = self[tsName];
    if (typeof method !== "function") throw new LuaRaise(`sql.builder: this ${self.constructor.name.replace(/Builder$/, "").toLowerCase()} query has no ${luaName}()`);
    try {
      return [handle(BuilderClass, method.apply(self, builderArguments(args)) as AnyBuilder)];
    } catch (error) {
      // A chain has no place for an error value: a bad column name or argument count is a mistake in the code.
      throw new LuaRaise(`sql.builder ${luaName}: ${(error as Error).message}`);
    }
  };
}

function runTarget(args: LuaArguments): Executor {
  const target = handleArgument(args, 2, DatabaseClass, TransactionClass);
  if (!target) throw new TaskrtError("E_LUA_ARGUMENT", `bad argument #1 to 'run_with' (database or transaction expected, got ${args.typeName(2)})`);
  return target.luaClass === TransactionClass ? openExecutor(target.value as TransactionState) : databaseExecutor(target.value as DatabaseState, args);
}

interface BoundState {
  query(): Promise<unknown[]>;
  exec(): Promise<ExecResult>;
  toSql(): { sql: string; params: unknown[] };
}

const BoundClass: LuaClass<BoundState> = defineLuaClass<BoundState>("sql.Executor", "executor", {
  query: (self) => self.query().then((rows) => [rows]),
  exec: (self) => self.exec().then((result) => [execResult(result)]),
  to_sql: (self) => {
    const statement = self.toSql();
    return [statement.sql, statement.params];
  },
});

const BuilderClass: LuaClass<AnyBuilder> = defineLuaClass<AnyBuilder>("sql.Builder", "query", {
  ...Object.fromEntries(Object.entries(CHAIN_METHODS).map(([luaName, tsName]) => [luaName, chain(luaName, tsName)])),
  to_sql: (self) => {
    const statement = self.toSql() as { sql: string; params: unknown[] };
    return [statement.sql, statement.params];
  },
  run_with: (self, args) => [handle(BoundClass, self.runWith(runTarget(args)) as BoundState)],
});

function starter(name: "select" | "insert" | "update" | "delete"): NativeFunction {
  const start = sql.builder[name] as unknown as (...args: unknown[]) => AnyBuilder;
  const native: NativeFunction = (args) => {
    try {
      return [handle(BuilderClass, start(...args.rest(1)))];
    } catch (error) {
      throw new LuaRaise(`sql.builder.${name}: ${(error as Error).message}`);
    }
  };
  Object.defineProperty(native, "name", { value: name });
  return native;
}

const SQL = {
  get: ((args) => {
    const call = args.call;
    const id = args.string(1);
    return sql.get(id).then((database) => {
      call?.defer(() => database.release());
      return [handle(DatabaseClass, { id, database })];
    });
  }) satisfies NativeFunction,
  builder: {
    select: starter("select"),
    insert: starter("insert"),
    update: starter("update"),
    delete: starter("delete"),
    question: "question",
    dollar: "dollar",
    at: "at",
    colon: "colon",
  },
  type: { ...sql.type, UNKNOWN: "unknown" },
  NULL: LUA_NULL,
};

export default defineLuaModule("sql", () => SQL);
