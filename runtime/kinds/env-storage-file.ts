/**
 * @module kinds/env-storage-file — `env.storage.file`: environment values in a `KEY=VALUE` file.
 * Read at start (blank lines and `#` comments skipped, text after `#` on a value line dropped,
 * quotes kept as written, as Wippy reads it); every `set` rewrites the file, keeping its comments.
 */
import { mkdir, readFile, writeFile, chmod } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { TaskrtError, errorMessage } from "../errors.ts";
import { defineKind } from "../contracts/kind-definition.ts";
import type { EnvStorage } from "../contracts/process-services.ts";

/** The `KEY=VALUE` pairs of an env file's text. */
export function parseEnvFile(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const equals = line.indexOf("=");
    if (equals <= 0) continue;
    const comment = line.indexOf("#", equals);
    values.set(line.slice(0, equals).trim(), (comment < 0 ? line.slice(equals + 1) : line.slice(equals + 1, comment)).trim());
  }
  return values;
}

/** `text` with `key` set to `value`: its line replaced in place, or a line appended. */
export function setInEnvFile(text: string, key: string, value: string): string {
  const lines = text === "" ? [] : text.replace(/\r?\n$/, "").split(/\r?\n/);
  const at = lines.findIndex((line) => {
    const trimmed = line.trim();
    return !trimmed.startsWith("#") && trimmed.slice(0, Math.max(0, trimmed.indexOf("="))).trim() === key;
  });
  if (at >= 0) lines[at] = `${key}=${value}`;
  else lines.push(`${key}=${value}`);
  return lines.join("\n") + "\n";
}

/** 0644 as YAML reads it (the decimal 644) or as a string: the octal mode its digits spell. */
function octalMode(mode: unknown): number {
  return Number.parseInt(String(mode), 8);
}

export default defineKind({
  kind: "env.storage.file",
  summary: "Environment values in a KEY=VALUE file, read at start; env.set rewrites it.",
  references: [],
  service: false,
  create(entry, context): EnvStorage & { start(): Promise<void>; describe(): string } {
    const file = resolve(context.registry.root, String(entry.data.file_path));
    let text = "";
    let values = new Map<string, string>();
    let writing: Promise<void> = Promise.resolve();
    return {
      readonly: false,
      async start() {
        try {
          text = await readFile(file, "utf8");
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
            throw new TaskrtError("E_ENV_FILE", `${entry.id}: cannot read ${file}: ${errorMessage(error)}`, { entryId: entry.id, cause: error });
          }
          if (entry.data.auto_create !== true) {
            throw new TaskrtError("E_ENV_FILE", `${entry.id}: ${file} does not exist`, { entryId: entry.id, hint: "create it, or set auto_create: true" });
          }
          await mkdir(dirname(file), { recursive: true, mode: octalMode(entry.data.dir_mode) });
          await writeFile(file, "", { mode: octalMode(entry.data.file_mode) });
          await chmod(file, octalMode(entry.data.file_mode));
        }
        values = parseEnvFile(text);
      },
      get: (key) => values.get(key),
      set(key, value) {
        if (/[\r\n]/.test(value)) throw new TaskrtError("E_ENV_INVALID", `${entry.id}: a value written to an env file cannot hold a line break`, { entryId: entry.id });
        values.set(key, value);
        text = setInEnvFile(text, key, value);
        const snapshot = text;
        // Writes go out in order: the file always ends as the last set left it.
        writing = writing.catch(() => {}).then(() => writeFile(file, snapshot));
        return writing.catch((error: unknown) => {
          throw new TaskrtError("E_ENV_FILE", `${entry.id}: cannot write ${file}: ${errorMessage(error)}`, { entryId: entry.id, cause: error });
        });
      },
      describe: () => file,
    };
  },
});
