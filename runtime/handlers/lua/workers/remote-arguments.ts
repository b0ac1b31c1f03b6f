/**
 * @module handlers/lua/workers/remote-arguments — a worker's module call as the module function
 * sees it on the main thread: the same LuaArguments methods, read from the wire copy the worker
 * made of the Lua stack, with the same conversion rules (values.ts) as a read off the stack.
 */
import { TaskrtError } from "../../../errors.ts";
import type { LuaHandle } from "../handles.ts";
import { LuaArguments, type LuaCall, type NativeHost } from "../native.ts";
import type { ReadOptions } from "../values.ts";
import { LUA_TYPE } from "../wasm.ts";
import { fromWire, wireHandle } from "../wire.ts";

export class RemoteArguments extends LuaArguments {
  readonly count: number;

  constructor(
    private readonly wire: readonly unknown[],
    private readonly types: readonly number[],
    readonly call: LuaCall | undefined,
    private readonly handles: (id: number) => LuaHandle | undefined,
    readonly functionName: string,
  ) {
    super();
    this.count = types.length;
  }

  get host(): NativeHost {
    throw new TaskrtError("E_INTERNAL", `${this.functionName} needs the Lua engine, which runs in a worker thread`);
  }

  type(position: number): number {
    return position > this.count ? LUA_TYPE.NONE : this.types[position - 1];
  }

  value(position: number, options?: ReadOptions): unknown {
    return position > this.count ? undefined : fromWire(this.wire[position - 1], options, this.handles);
  }

  handle(position: number): LuaHandle | undefined {
    return position > this.count ? undefined : wireHandle(this.wire[position - 1], this.handles);
  }

  protected readString(position: number): string {
    return this.wire[position - 1] as string;
  }
}
