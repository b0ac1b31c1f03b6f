/**
 * @module modules/registry — the running registry for handlers, as Wippy's `registry` module:
 * `get`, `find`, `parse_id`, point-in-time snapshots and changesets. The registry starts at
 * version 0 (`v0`), and each applied changeset raises it by one. A changeset applies to data entries only
 * (`registry.entry`, `ns.definition`): an entry taskrt runs (an endpoint, a consumer) would need
 * a restart to change, so a changeset touching one is refused whole.
 */
import { TaskrtError } from "../errors.ts";
import { splitId, type Entry, type Registry } from "../registry/entry.ts";
import { useModule } from "./context.ts";

/** An entry as handlers see it: a copy, so nothing they do changes the registry. */
export interface RegistryEntry {
  id: string;
  kind: string;
  meta: Record<string, unknown>;
  data: unknown;
}

/** The kinds a changeset may create, update or delete. */
export const DATA_KINDS: ReadonlySet<string> = new Set(["registry.entry", "ns.definition"]);

export type RegistryFilter = Record<string, unknown>;

export type ChangeOperation = { kind: "entry.create" | "entry.update"; entry: RegistryEntry } | { kind: "entry.delete"; entry: { id: string } };

interface VersionState {
  version: number;
}
const versions = new WeakMap<Registry, VersionState>();

function stateOf(registry: Registry): VersionState {
  let state = versions.get(registry);
  if (!state) versions.set(registry, (state = { version: 0 }));
  return state;
}

function currentRegistry(): Registry {
  const context = useModule("registry");
  const registry = context.services.registry?.();
  if (!registry) throw new TaskrtError("E_REGISTRY_UNAVAILABLE", "registry: no registry is running");
  return registry;
}

export function toRegistryEntry(entry: Entry): RegistryEntry {
  return { id: entry.id, kind: entry.kind, meta: structuredClone(entry.meta), data: structuredClone(entry.data) };
}

/** What a filter key names: `.kind` (or `kind`), `.ns`, `.name`, `.id` the entry's own; `meta.type` (or plain `type`) a meta field. */
function filterField(entry: Entry, key: string): unknown {
  switch (key) {
    case ".kind":
    case "kind": // as Wippy's examples write it
      return entry.kind;
    case ".ns":
      return entry.namespace;
    case ".name":
      return entry.name;
    case ".id":
      return entry.id;
  }
  return entry.meta[key.startsWith("meta.") ? key.slice("meta.".length) : key];
}

/** Wippy's filter: every key must match (see filterField); values compare as text. */
export function matchesFilter(entry: Entry, filter: RegistryFilter): boolean {
  for (const [key, expected] of Object.entries(filter)) {
    const found = filterField(entry, key);
    if (found === expected) continue;
    if (found === undefined || found === null || typeof found === "object" || String(found) !== String(expected)) return false;
  }
  return true;
}

function byId(entries: readonly Entry[]): Entry[] {
  return [...entries].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function checkId(id: unknown, what: string): string {
  if (typeof id !== "string" || id === "") throw new TaskrtError("E_REGISTRY_INVALID", `registry: ${what} needs an entry id, got ${id === "" ? "an empty string" : typeof id}`);
  return id;
}

/** A point-in-time view: the entries as they were when it was taken. */
export class Snapshot {
  constructor(
    private readonly registry: Registry,
    private readonly entriesAt: readonly Entry[],
    readonly version: number,
  ) {}

  /** Sorted by id: Wippy promises no order, and a fixed one makes output repeatable. */
  entries(): RegistryEntry[] {
    return byId(this.entriesAt).map(toRegistryEntry);
  }

  get(id: string): RegistryEntry {
    checkId(id, "get");
    const entry = this.entriesAt.find((candidate) => candidate.id === id);
    if (!entry) throw new TaskrtError("E_REGISTRY_ENTRY_NOT_FOUND", `registry: no entry ${id}`);
    return toRegistryEntry(entry);
  }

  find(filter: RegistryFilter = {}): RegistryEntry[] {
    return byId(this.entriesAt.filter((entry) => matchesFilter(entry, filter))).map(toRegistryEntry);
  }

  namespace(namespace: string): RegistryEntry[] {
    return byId(this.entriesAt.filter((entry) => entry.namespace === namespace)).map(toRegistryEntry);
  }

  changes(): Changes {
    return new Changes(this.registry);
  }
}

/** Operations collected, then applied together (all or none) by `apply`. */
export class Changes {
  private readonly operations: ChangeOperation[] = [];

  constructor(private readonly registry: Registry) {}

  create(entry: RegistryEntry): void {
    this.operations.push({ kind: "entry.create", entry: checkEntry(entry, "create") });
  }

  update(entry: RegistryEntry): void {
    this.operations.push({ kind: "entry.update", entry: checkEntry(entry, "update") });
  }

  delete(id: string | { ns: string; name: string }): void {
    const full = typeof id === "object" && id !== null ? `${id.ns}:${id.name}` : checkId(id, "delete");
    this.operations.push({ kind: "entry.delete", entry: { id: full } });
  }

  ops(): ChangeOperation[] {
    return structuredClone(this.operations);
  }

  /** Applies every operation, or none when one is refused; the registry's new version. */
  apply(): number {
    if (this.operations.length === 0) throw new TaskrtError("E_REGISTRY_INVALID", "registry: no changes to apply");
    const byId = new Map(this.registry.byId);
    for (const operation of this.operations) {
      const { id } = operation.entry;
      const existing = byId.get(id);
      if (existing && !DATA_KINDS.has(existing.kind)) refuseKind(id, existing.kind);
      if (operation.kind === "entry.delete") {
        if (!existing) throw new TaskrtError("E_REGISTRY_ENTRY_NOT_FOUND", `registry: cannot delete ${id}: no such entry`);
        byId.delete(id);
        continue;
      }
      if (!DATA_KINDS.has(operation.entry.kind)) refuseKind(id, operation.entry.kind);
      if (operation.kind === "entry.create" && existing) throw new TaskrtError("E_REGISTRY_ALREADY_EXISTS", `registry: cannot create ${id}: it already exists`);
      if (operation.kind === "entry.update" && !existing) throw new TaskrtError("E_REGISTRY_ENTRY_NOT_FOUND", `registry: cannot update ${id}: no such entry`);
      byId.set(id, liveEntry(operation.entry, existing, this.registry.root));
    }
    // Entries keep their order; created ones come last, in the order they were created.
    const kept = this.registry.entries.filter((entry) => byId.has(entry.id)).map((entry) => byId.get(entry.id)!);
    const created = [...byId.values()].filter((entry) => !this.registry.byId.has(entry.id));
    this.registry.entries.splice(0, this.registry.entries.length, ...kept, ...created);
    this.registry.byId.clear();
    for (const entry of this.registry.entries) this.registry.byId.set(entry.id, entry);
    const state = stateOf(this.registry);
    state.version += 1;
    return state.version;
  }
}

function refuseKind(id: string, kind: string): never {
  throw new TaskrtError("E_REGISTRY_INVALID", `registry: ${id} is a ${kind} entry: taskrt changes only data entries (${[...DATA_KINDS].join(", ")}) while it runs`, {
    hint: "edit the registry files and restart (or run with --watch) to change entries taskrt runs",
  });
}

function checkEntry(entry: RegistryEntry, what: string): RegistryEntry {
  if (typeof entry !== "object" || entry === null) throw new TaskrtError("E_REGISTRY_INVALID", `registry: ${what} needs an entry table {id, kind, meta, data}`);
  const id = checkId(entry.id, what);
  if (!id.includes(":")) throw new TaskrtError("E_REGISTRY_INVALID", `registry: ${what}: id '${id}' has no namespace: write it as namespace:name`);
  if (typeof entry.kind !== "string" || entry.kind === "") throw new TaskrtError("E_REGISTRY_INVALID", `registry: ${what} ${id}: the entry needs a kind`);
  const meta = entry.meta ?? {};
  if (typeof meta !== "object" || Array.isArray(meta)) throw new TaskrtError("E_REGISTRY_INVALID", `registry: ${what} ${id}: meta must be a table`);
  return { id, kind: entry.kind, meta: structuredClone(meta), data: structuredClone(entry.data ?? {}) };
}

function liveEntry(entry: RegistryEntry, previous: Entry | undefined, root: string): Entry {
  const { namespace, name } = splitId(entry.id);
  const location = previous?.location ?? { file: root, line: 0, column: 0 };
  const data = typeof entry.data === "object" && entry.data !== null && !Array.isArray(entry.data) ? (entry.data as Record<string, unknown>) : { data: entry.data };
  return { id: entry.id, namespace, name, kind: entry.kind, meta: entry.meta, data, file: previous?.file ?? root, location, locate: () => location };
}

export const registry = {
  get(id: string): RegistryEntry {
    return this.snapshot().get(id);
  },
  find(filter: RegistryFilter = {}): RegistryEntry[] {
    return this.snapshot().find(filter);
  },
  parseId(id: string): { ns: string; name: string } {
    useModule("registry");
    const { namespace, name } = splitId(checkId(id, "parse_id"));
    return { ns: namespace, name };
  },
  snapshot(): Snapshot {
    const live = currentRegistry();
    return new Snapshot(live, [...live.entries], stateOf(live).version);
  },
  currentVersion(): number {
    return stateOf(currentRegistry()).version;
  },
};
