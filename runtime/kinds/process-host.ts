/**
 * @module kinds/process-host — `process.host`: where processes run. Lua processes run on the Lua
 * worker threads (see handlers/lua/process), so the host only names the place; Wippy's worker settings are accepted and ignored.
 */
import { defineKind } from "../contracts/kind-definition.ts";

export default defineKind({
  kind: "process.host",
  summary: "Where processes run: those process.service entries start and those other processes spawn (process.spawn(id, host, ...)).",
  references: [],
  service: true,
  create() {
    return { describe: () => "ready" };
  },
});
