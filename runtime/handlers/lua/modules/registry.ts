/**
 * @module handlers/lua/modules/registry — Lua's `registry` module (Wippy's API) over the
 * TypeScript `registry` module: `get`, `find`, `parse_id`, `snapshot`, `current_version`;
 * snapshots with `entries/get/find/namespace/version/changes`; changesets with
 * `create/update/delete/ops/apply`.
 */
import { TaskrtError } from "../../../errors.ts";
import { registry, type Changes, type RegistryEntry, type RegistryFilter, type Snapshot } from "../../../modules/registry.ts";
import { defineLuaClass, handle, type LuaClass } from "../handles.ts";
import { defineLuaModule } from "../module.ts";
import type { LuaArguments, NativeFunction } from "../native.ts";
import { LUA_TYPE } from "../wasm.ts";

function filterArgument(args: LuaArguments, position: number): RegistryFilter {
  if (args.isNil(position)) return {};
  if (args.type(position) !== LUA_TYPE.TABLE) throw new TaskrtError("E_LUA_ARGUMENT", `bad argument #${position} to 'find' (table expected, got ${args.typeName(position)})`);
  return args.value(position, { emptyTable: "object" }) as RegistryFilter;
}

function entryArgument(args: LuaArguments, position: number, what: string): RegistryEntry {
  if (args.type(position) !== LUA_TYPE.TABLE) throw new TaskrtError("E_LUA_ARGUMENT", `bad argument #${position - 1} to '${what}' (entry table expected, got ${args.typeName(position)})`);
  return args.value(position, { emptyTable: "object" }) as RegistryEntry;
}

const VersionClass: LuaClass<number> = defineLuaClass<number>(
  "registry.Version",
  "version",
  {
    id: (self) => [self],
    string: (self) => [`v${self}`],
    previous: (self) => (self > 0 ? [handle(VersionClass, self - 1)] : [undefined]),
    next: (self) => (self < registry.currentVersion() ? [handle(VersionClass, self + 1)] : [undefined]),
  },
  (self) => `v${self}`,
);

const ChangesClass: LuaClass<Changes> = defineLuaClass<Changes>("registry.Changes", "changes", {
  create: (self, args) => (self.create(entryArgument(args, 2, "create")), [handle(ChangesClass, self)]),
  update: (self, args) => (self.update(entryArgument(args, 2, "update")), [handle(ChangesClass, self)]),
  delete: (self, args) => {
    const target = args.type(2) === LUA_TYPE.TABLE ? (args.value(2) as { ns: string; name: string }) : args.string(2);
    self.delete(target);
    return [handle(ChangesClass, self)];
  },
  ops: (self) => [self.ops()],
  apply: (self) => [handle(VersionClass, self.apply())],
});

const SnapshotClass: LuaClass<Snapshot> = defineLuaClass<Snapshot>("registry.Snapshot", "snap", {
  entries: (self) => [self.entries()],
  get: (self, args) => [self.get(args.string(2))],
  find: (self, args) => [self.find(filterArgument(args, 2))],
  namespace: (self, args) => [self.namespace(args.string(2))],
  version: (self) => [handle(VersionClass, self.version)],
  changes: (self) => [handle(ChangesClass, self.changes())],
});

const REGISTRY: Record<string, NativeFunction> = {
  get: (args) => [registry.get(args.string(1))],
  find: (args) => [registry.find(filterArgument(args, 1))],
  parse_id: (args) => [registry.parseId(args.string(1))],
  snapshot: () => [handle(SnapshotClass, registry.snapshot())],
  current_version: () => [handle(VersionClass, registry.currentVersion())],
};

export default defineLuaModule("registry", () => REGISTRY);
