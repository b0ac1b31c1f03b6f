/**
 * @module modules/environment-variables — the registry's `env.variable` entries as one lookup:
 * by public name (the first variable to claim a name keeps it, as Wippy) or by entry id, each
 * read from and written to its `env.storage.*` entry, with its default and read-only flag.
 */
import { TaskrtError } from "../errors.ts";
import { resolveId, type Entry, type Registry } from "../registry/entry.ts";
import type { EnvironmentVariables, EnvStorage } from "../contracts/process-services.ts";

export function createEnvironmentVariables(registry: Registry, component: (id: string) => unknown): EnvironmentVariables {
  let byName: Map<string, Entry> | undefined;
  const variables = (): Map<string, Entry> => {
    if (byName) return byName;
    byName = new Map();
    for (const entry of registry.entries) {
      if (entry.kind !== "env.variable") continue;
      const name = entry.data.variable;
      if (typeof name === "string" && !byName.has(name)) byName.set(name, entry);
    }
    return byName;
  };

  const find = (name: string): Entry => {
    if (typeof name !== "string" || name === "") throw new TaskrtError("E_ENV_INVALID", "env: the variable name is empty");
    const byId = registry.byId.get(name);
    const entry = variables().get(name) ?? (byId?.kind === "env.variable" ? byId : undefined);
    if (!entry) {
      throw new TaskrtError("E_ENV_NOT_FOUND", `env: no variable ${name}`, { hint: `declare it: an env.variable entry with variable: ${name} and a storage` });
    }
    return entry;
  };
  const storageOf = (entry: Entry): EnvStorage => component(resolveId(String(entry.data.storage), entry.namespace)) as EnvStorage;
  const keyOf = (entry: Entry): string => (typeof entry.data.variable === "string" ? entry.data.variable : entry.name);
  const read = async (entry: Entry): Promise<string | undefined> => {
    const value = await storageOf(entry).get(keyOf(entry));
    if (value !== undefined) return value;
    return entry.data.default === undefined ? undefined : String(entry.data.default);
  };

  return {
    async get(name) {
      const entry = find(name);
      const value = await read(entry);
      if (value === undefined) throw new TaskrtError("E_ENV_NOT_FOUND", `env: variable ${name} has no value and no default`, { entryId: entry.id });
      return value;
    },
    async set(name, value) {
      const entry = find(name);
      const storage = storageOf(entry);
      if (entry.data.readonly === true || entry.data.read_only === true) throw new TaskrtError("E_ENV_PERMISSION_DENIED", `env: variable ${name} is read-only (${entry.id})`, { entryId: entry.id });
      if (storage.readonly) throw new TaskrtError("E_ENV_PERMISSION_DENIED", `env: variable ${name} is kept in read-only storage ${resolveId(String(entry.data.storage), entry.namespace)}`, { entryId: entry.id });
      await storage.set(keyOf(entry), value);
    },
    async all() {
      const values: Record<string, string> = {};
      for (const entry of registry.entries) {
        if (entry.kind !== "env.variable") continue;
        const name = typeof entry.data.variable === "string" && variables().get(entry.data.variable) === entry ? entry.data.variable : entry.id;
        const value = await read(entry);
        if (value !== undefined) values[name] = value;
      }
      return values;
    },
  };
}
