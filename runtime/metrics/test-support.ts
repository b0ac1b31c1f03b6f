/**
 * @module metrics/test-support — test helpers for the operations kinds: a registry written from a
 * YAML snippet into a throwaway folder, validated (so entries carry their schema defaults) and, on
 * demand, started under a supervisor with `taskrt.metrics` and `taskrt.health` in the kinds table.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Problem } from "../errors.ts";
import { createKindTable } from "../kinds/index.ts";
import taskrtHealth from "../kinds/taskrt-health.ts";
import taskrtMetrics from "../kinds/taskrt-metrics.ts";
import { createLogger } from "../logger.ts";
import type { Registry } from "../registry/entry.ts";
import { checkRegistry } from "../runtime.ts";
import { Supervisor } from "../supervisor.ts";

const KINDS = [taskrtMetrics, taskrtHealth];

export interface LoadedYaml {
  registry: Registry;
  problems: Problem[];
  directory: string;
  remove(): void;
}

/** `entries` is the YAML list under `entries:` of namespace `app`; `{dir}` is replaced by the folder. */
export async function loadYaml(entries: string): Promise<LoadedYaml> {
  const directory = mkdtempSync(path.join(tmpdir(), "taskrt-ops-"));
  const file = path.join(directory, "_index.yaml");
  writeFileSync(file, `version: "1.0"\nnamespace: app\nentries:\n${entries.replaceAll("{dir}", directory)}`);
  const { registry, problems } = await checkRegistry({ path: file, kinds: KINDS });
  return { registry, problems, directory, remove: () => rmSync(directory, { recursive: true, force: true }) };
}

/** Builds and starts the registry; refuses one with errors. */
export async function startYaml(entries: string): Promise<{ supervisor: Supervisor; url(): string; stop(): Promise<void> }> {
  const loaded = await loadYaml(entries);
  const errors = loaded.problems.filter((problem) => problem.severity === "error");
  if (errors.length > 0) {
    loaded.remove();
    throw new Error(`registry has problems: ${errors.map((problem) => problem.message).join("; ")}`);
  }
  const supervisor = new Supervisor(loaded.registry, createKindTable(KINDS), createLogger({ level: "error", sink: { write() {} } }));
  try {
    await supervisor.start();
  } catch (error) {
    loaded.remove();
    throw error;
  }
  return {
    supervisor,
    url: () => `http://127.0.0.1:${supervisor.component<{ address(): { port: number } }>("app:gateway").address().port}`,
    async stop() {
      await supervisor.stop();
      loaded.remove();
    },
  };
}

/** A server and a router, the usual base of a snippet. */
export const GATEWAY = `
  - name: gateway
    kind: http.service
    addr: "127.0.0.1:0"
    lifecycle:
      auto_start: true
  - name: router
    kind: http.router
    meta:
      server: app:gateway
`;
