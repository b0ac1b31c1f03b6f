/**
 * @module kinds/env-storage-static — `env.storage.static`: fixed values written in the entry,
 * read-only (public constants a project ships).
 */
import { TaskrtError } from "../errors.ts";
import { defineKind } from "../contracts/kind-definition.ts";
import type { EnvStorage } from "../contracts/process-services.ts";
import type { Component } from "../contracts/component.ts";

export default defineKind({
  kind: "env.storage.static",
  summary: "Fixed environment values written in the entry, read-only.",
  references: [],
  service: false,
  create(entry): EnvStorage & Component {
    const values = new Map(Object.entries(entry.data.values as Record<string, string>));
    return {
      describe: () => `${values.size} fixed values`,
      readonly: true,
      get: (key) => values.get(key),
      set: () => {
        throw new TaskrtError("E_ENV_PERMISSION_DENIED", `${entry.id} holds fixed values, which are read-only`, { entryId: entry.id });
      },
    };
  },
});
