/**
 * @module kinds/env-storage-router — `env.storage.router`: several storages as one; a read takes
 * the first storage that has the variable, a write goes to the first storage.
 */
import { defineKind } from "../contracts/kind-definition.ts";
import type { EnvStorage } from "../contracts/process-services.ts";
import type { Component } from "../contracts/component.ts";
import { resolveId } from "../registry/entry.ts";

export default defineKind({
  kind: "env.storage.router",
  summary: "Chains env storages: reads take the first that has a value, writes go to the first.",
  references: [{ path: ["storages"], kinds: ["env.storage.*"] }],
  service: false,
  create(entry, context): EnvStorage & Component {
    const ids = (entry.data.storages as string[]).map((id) => resolveId(id, entry.namespace));
    const storages = () => ids.map((id) => context.component<EnvStorage>(id));
    return {
      describe: () => `reads ${ids.join(" → ")}`,
      get readonly() {
        return storages()[0].readonly;
      },
      async get(key) {
        for (const storage of storages()) {
          const value = await storage.get(key);
          if (value !== undefined) return value;
        }
        return undefined;
      },
      set: (key, value) => storages()[0].set(key, value),
    };
  },
});
