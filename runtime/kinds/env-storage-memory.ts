/**
 * @module kinds/env-storage-memory — `env.storage.memory`: environment values held in memory,
 * for `env.variable` entries; they start empty and are lost on exit.
 */
import { defineKind } from "../contracts/kind-definition.ts";
import type { EnvStorage } from "../contracts/process-services.ts";
import type { Component } from "../contracts/component.ts";

export default defineKind({
  kind: "env.storage.memory",
  summary: "Environment values in memory, for env.variable entries; lost on exit.",
  references: [],
  service: false,
  create(): EnvStorage & Component {
    const values = new Map<string, string>();
    return { readonly: false, get: (key) => values.get(key), set: (key, value) => void values.set(key, value), describe: () => "in memory" };
  },
});
