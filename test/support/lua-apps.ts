/**
 * @module test/support/lua-apps — starts Lua registries for tests whose entries share the process's
 * Lua workers: each registry is stopped when its test ends (registries in one process share the
 * workers and their entry ids), and any left over when the file ends.
 */
import { after, afterEach } from "node:test";
import { captureLogger, type LogRecord } from "./logs.ts";
import { startSnippet, type StartedSnippet } from "./registry.ts";

export type StartLuaApp = (yaml: string, files: Record<string, string>) => Promise<{ snippet: StartedSnippet; lines: LogRecord[] }>;

/** Call once at the top of a test file: returns `start(yaml, files)`, files named relative to `app/`. */
export function luaAppsStoppedPerTest(): StartLuaApp {
  const started = new Set<StartedSnippet>();
  after(async () => {
    for (const snippet of started) await snippet.stop().catch(() => {});
  });
  afterEach(async () => {
    for (const snippet of started) await snippet.stop();
    started.clear();
  });
  return async (yaml, files) => {
    const { logger, lines } = captureLogger();
    const prefixed = Object.fromEntries(Object.entries(files).map(([name, code]) => [`app/${name}`, code]));
    const snippet = await startSnippet(yaml, { files: prefixed, logger });
    started.add(snippet);
    return { snippet, lines };
  };
}
