/**
 * @module test/helpers — starting a registry in-process on a free port with a throwaway database,
 * and waiting for eventually-true conditions.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startRuntime, type Runtime } from "../runtime/runtime.ts";
import { createLogger, type Logger } from "../runtime/logger.ts";

export interface RunningApp {
  runtime: Runtime;
  url: string;
  directory: string;
  logs: string[];
  stop(): Promise<void>;
}

export function temporaryDirectory(prefix = "taskrt-test-"): { directory: string; remove(): void } {
  const directory = mkdtempSync(path.join(tmpdir(), prefix));
  return { directory, remove: () => rmSync(directory, { recursive: true, force: true }) };
}

/** A logger that keeps its JSON lines for assertions instead of printing them. */
export function capturingLogger(lines: string[] = []): Logger {
  return createLogger({ level: "debug", format: "json", sink: { write: (line) => void lines.push(line) } });
}

/**
 * Starts `registryPath` with the gateway on 127.0.0.1:0 and the database in a fresh folder.
 * `gateway` and `database` name the entries to override.
 */
export async function startApp(
  registryPath: string,
  options: { gateway?: string; database?: string; overrides?: string[] } = {},
): Promise<RunningApp> {
  const temporary = temporaryDirectory();
  const gateway = options.gateway ?? "app:gateway";
  const overrides = [`${gateway}:addr=127.0.0.1:0`, ...(options.overrides ?? [])];
  if (options.database !== null) overrides.push(`${options.database ?? "app:db"}:file=${path.join(temporary.directory, "tasks.db")}`);
  const logs: string[] = [];
  const runtime = await startRuntime({ path: registryPath, overrides, logger: capturingLogger(logs) });
  const server = runtime.component<{ address(): { host: string; port: number } }>(gateway);
  const { port } = server.address();
  return {
    runtime,
    url: `http://127.0.0.1:${port}`,
    directory: temporary.directory,
    logs,
    async stop() {
      await runtime.stop();
      temporary.remove();
    },
  };
}

/** Polls `check` until it gives a value. The deadline only turns a hang into a failure: generous, since a saturated 2-core machine can take 10 s and more to start an app. */
export async function waitFor<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { headers });
  return { status: response.status, body: await response.json() };
}
