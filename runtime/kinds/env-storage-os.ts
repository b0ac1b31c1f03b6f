/**
 * @module kinds/env-storage-os — `env.storage.os`: the process's OS environment as a read-only
 * storage, the one way `env.variable` entries reach OS variables.
 */
import { TaskrtError } from "../errors.ts";
import { defineKind } from "../contracts/kind-definition.ts";
import type { EnvStorage } from "../contracts/process-services.ts";
import type { Component } from "../contracts/component.ts";

export default defineKind({
  kind: "env.storage.os",
  summary: "The OS environment, read-only, for env.variable entries.",
  references: [],
  service: false,
  create(entry): EnvStorage & Component {
    return {
      describe: () => "the OS environment (read-only)",
      readonly: true,
      get: (key) => process.env[key],
      set: () => {
        throw new TaskrtError("E_ENV_PERMISSION_DENIED", `${entry.id} is the OS environment, which is read-only`, { entryId: entry.id });
      },
    };
  },
});
