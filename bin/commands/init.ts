/**
 * @module bin/commands/init — `taskrt init [DIR]`: writes a new project from `templates/init/`
 * (registry, handlers, test, README), filling in `{{placeholders}}`, and says what to do next.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { TaskrtError } from "../../runtime/errors.ts";
import { flagValue } from "../args.ts";
import type { CliIO } from "../output.ts";
import { PACKAGE_ROOT, VERSION, declaredRange } from "../package-info.ts";
import { positionals, type Command } from "./command.ts";

const TEMPLATE_ROOT = path.join(PACKAGE_ROOT, "templates", "init");

/** npm leaves `.gitignore` out of published packages, so the template stores it without the dot. */
const RENAMED: Record<string, string> = { gitignore: ".gitignore" };

export const initCommand: Command = {
  name: "init",
  usage: "init [DIR] [--force]",
  description: "create a project that runs and passes its test",
  flags: [
    { name: "force", description: "write into a non-empty DIR, replacing files of the same names" },
    { name: "taskrt-path", value: "PATH", hidden: true, description: "depend on this taskrt checkout (file:PATH) instead of the published version" },
  ],
  async run(args, io) {
    const [given = "."] = positionals(args, "init", 0, 1, "at most one DIR (default: the current directory)");
    const directory = path.resolve(given);
    const steps = progress(io, 2);
    steps(`checking ${given}`);
    checkDirectory(directory, given, args.flags.has("force"));
    const taskrtPath = flagValue(args, "taskrt-path");
    const values: Record<string, string> = {
      name: packageName(path.basename(directory)),
      taskrt: taskrtPath ? `file:${path.resolve(taskrtPath)}` : `^${VERSION}`,
      tsx: declaredRange("tsx") ?? "*",
      types_node: declaredRange("@types/node") ?? "*",
    };
    const files = templateFiles(TEMPLATE_ROOT);
    steps(`writing ${files.length} files`);
    const written = files.map((file) => writeFromTemplate(file, directory, values)).sort((left, right) => (left.file < right.file ? -1 : 1));
    io.stdout(report(given, values.name, written));
    return 0;
  },
};

/** Numbered step lines, shown only where progress is shown (a terminal). */
function progress(io: CliIO, total: number): (text: string) => void {
  let step = 0;
  return (text) => io.progress?.(`[${++step}/${total}] ${text}…`);
}

function checkDirectory(directory: string, given: string, force: boolean): void {
  if (!existsSync(directory)) return;
  if (!statSync(directory).isDirectory()) {
    throw new TaskrtError("E_INIT_TARGET", `${given} exists and is not a directory`, { hint: "name a new or empty directory" });
  }
  const present = readdirSync(directory);
  if (present.length > 0 && !force) {
    throw new TaskrtError("E_INIT_TARGET", `${given} is not empty (${present.length} entr${present.length === 1 ? "y" : "ies"})`, {
      hint: "name a new or empty directory, or add --force to write into it (files of the same names are replaced)",
    });
  }
}

/** Every file under the template folder, as paths relative to it, in sorted order. */
function templateFiles(root: string, prefix = ""): string[] {
  return readdirSync(path.join(root, prefix), { withFileTypes: true })
    .sort((left, right) => (left.name < right.name ? -1 : 1))
    .flatMap((item) => {
      const relative = prefix ? `${prefix}/${item.name}` : item.name;
      return item.isDirectory() ? templateFiles(root, relative) : [relative];
    });
}

function writeFromTemplate(template: string, directory: string, values: Record<string, string>): { file: string; replaced: boolean } {
  const file = template.split("/").map((part) => RENAMED[part] ?? part).join("/");
  const target = path.join(directory, file);
  const replaced = existsSync(target);
  const text = readFileSync(path.join(TEMPLATE_ROOT, template), "utf8").replace(/\{\{(\w+)\}\}/g, (placeholder, key: string) => values[key] ?? placeholder);
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, text);
  return { file, replaced };
}

/** A valid npm package name from a folder name: lower case, URL-safe characters, no leading dot or underscore. */
function packageName(folder: string): string {
  const name = folder
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, "-")
    .replace(/^[._-]+/, "")
    .replace(/-+$/, "");
  return name || "taskrt-app";
}

function report(given: string, name: string, written: { file: string; replaced: boolean }[]): string {
  const here = path.resolve(given) === process.cwd();
  const lines = [`created ${name} in ${here ? "the current directory" : given}:`];
  for (const { file, replaced } of written) lines.push(`  ${file}${replaced ? " (replaced)" : ""}`);
  lines.push("", "next steps:", `  ${here ? "" : `cd ${shellQuote(given)} && `}npm install && npx taskrt run _index.yaml`, "  npm test    (runs test/app.test.ts)");
  return lines.join("\n") + "\n";
}

function shellQuote(text: string): string {
  return /^[\w./~-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}
