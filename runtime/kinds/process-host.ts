/**
 * @module kinds/process-host — `process.host`: where process services run. Node runs them on its
 * event loop, so the host only marks the place; Wippy's worker settings are accepted and ignored.
 */
import { defineKind } from "../contracts/kind-definition.ts";

export default defineKind({
  kind: "process.host",
  summary: "Runs processes started by process.service entries.",
  references: [],
  service: true,
  create() {
    return { describe: () => "ready" };
  },
});
