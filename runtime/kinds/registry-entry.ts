/**
 * @module kinds/registry-entry — `registry.entry`: application data kept in the registry, any
 * fields; handlers read it with the `registry` module. Starts nothing.
 */
import { defineKind } from "../contracts/kind-definition.ts";

export default defineKind({
  kind: "registry.entry",
  summary: "Application data in the registry (any fields), read with the registry module.",
  references: [],
  service: false,
  create: () => ({}),
});
