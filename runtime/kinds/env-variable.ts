/**
 * @module kinds/env-variable — `env.variable`: a named variable kept in an `env.storage.*` entry.
 * The entry is data: the `env` module finds it by public name or id (modules/environment-variables.ts).
 */
import { defineKind } from "../contracts/kind-definition.ts";

export default defineKind({
  kind: "env.variable",
  summary: "A named environment variable in an env.storage.* entry, for env.get / env.set.",
  references: [{ path: ["storage"], kinds: ["env.storage.*"] }],
  service: false,
  create: () => ({}),
});
