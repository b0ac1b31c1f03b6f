/**
 * @module kinds/ns-definition — `ns.definition`: describes a namespace (title, description, …);
 * data for the `registry` module. Starts nothing.
 */
import { defineKind } from "../contracts/kind-definition.ts";

export default defineKind({
  kind: "ns.definition",
  summary: "Describes a namespace: data for the registry module; starts nothing.",
  references: [],
  service: false,
  create: () => ({}),
});
