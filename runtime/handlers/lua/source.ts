/**
 * @module handlers/lua/source — reads a Lua entry's code: a `file://` path (rewritten absolute by
 * the loader) or inline code, and the name its messages use (the path from the project root).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { TaskrtError } from "../../errors.ts";
import { sourcePath, type Entry } from "../../registry/entry.ts";

export interface LuaSource {
  code: string;
  /** `src/create_task.lua` for a file under the project root; undefined for inline code. */
  fileName?: string;
  /** Absolute path, for a file. */
  file?: string;
}

export async function readLuaSource(entry: Entry, root: string): Promise<LuaSource> {
  const source = String(entry.data.source ?? "");
  const file = sourcePath(source);
  if (file === undefined) return { code: source };
  let code: string;
  try {
    code = await readFile(file, "utf8");
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    throw new TaskrtError(missing ? "E_SOURCE_MISSING" : "E_SOURCE", `${entry.id}: ${missing ? `source file ${file} does not exist` : `cannot read source file ${file}: ${(error as Error).message}`}`, {
      entryId: entry.id,
      cause: error,
      hint: missing ? "source: file://name.lua is resolved from the directory of the YAML file" : undefined,
    });
  }
  const relative = path.relative(root, file);
  const fileName = relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative.split(path.sep).join("/") : file;
  return { code, fileName, file };
}
