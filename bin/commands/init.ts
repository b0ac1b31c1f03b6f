/**
 * @module bin/commands/init — `taskrt init [DIR]`: writes a new project from `templates/init/`
 * (registry, handlers, test, README), filling in `{{placeholders}}` (taskrt's own dependency is one
 * that installs: see taskrt-dependency.ts), optionally installs its dependencies (`--install`,
 * npm's own progress on a terminal), and says what to do next.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { TaskrtError } from "../../runtime/errors.ts";
import { flagValue } from "../args.ts";
import type { CliIO } from "../output.ts";
import { PACKAGE_ROOT, VERSION, declaredRange } from "../package-info.ts";
import { positionals, type Command } from "./command.ts";
import { resolveTaskrtDependency, type TaskrtDependency } from "./taskrt-dependency.ts";

const TEMPLATE_ROOT = path.join(PACKAGE_ROOT, "templates", "init");
/** Offline, the registry never answers: the project then depends on this copy after this long. */
const REGISTRY_TIMEOUT_MS = 5000;

/** npm leaves `.gitignore` out of published packages, so the template stores it without the dot. */
const RENAMED: Record<string, string> = { gitignore: ".gitignore" };

export const initCommand: Command = {
  name: "init",
  usage: "init [DIR] [--force] [--install]",
  description: "create a project that runs and passes its test",
  flags: [
    { name: "force", description: "write into a non-empty DIR, replacing files of the same names" },
    { name: "install", description: "run npm install in DIR afterwards (npm's progress shows on a terminal)" },
    {
      name: "taskrt-path",
      value: "PATH",
      description: "depend on this taskrt folder or .tgz; default: the registry's version if published, else this installation",
    },
  ],
  async run(args, io) {
    const [given = "."] = positionals(args, "init", 0, 1, "at most one DIR (default: the current directory)");
    const directory = path.resolve(given);
    // `wippy init` in a Wippy project (it only writes the lock): taskrt needs nothing more to run it.
    if (!args.flags.has("force") && existsSync(path.join(directory, "wippy.lock"))) {
      io.stdout(`${given} is a Wippy project already (wippy.lock): nothing to write. Run it with \`taskrt run\`, or one process with \`taskrt run -x ns:entry\`.\n`);
      return 0;
    }
    const install = args.flags.has("install");
    const steps = progress(io, install ? 3 : 2);
    steps(`checking ${given}`);
    checkDirectory(directory, given, args.flags.has("force"));
    const dependency = await resolveTaskrtDependency(flagValue(args, "taskrt-path"), { version: VERSION, packageRoot: PACKAGE_ROOT, npm: npmCommand(), timeoutMs: REGISTRY_TIMEOUT_MS });
    const values: Record<string, string> = {
      name: packageName(path.basename(directory)),
      taskrt: dependency.spec,
      tsx: declaredRange("tsx") ?? "*",
      types_node: declaredRange("@types/node") ?? "*",
      typescript: declaredRange("typescript") ?? "*",
    };
    const files = templateFiles(TEMPLATE_ROOT);
    steps(`writing ${files.length} files`);
    const written = files.map((file) => writeFromTemplate(file, directory, values)).sort((left, right) => (left.file < right.file ? -1 : 1));
    if (install) {
      steps("installing dependencies (npm install)");
      await npmInstall(directory, given, io);
    }
    io.stdout(report(given, values.name, written, dependency, install));
    return 0;
  },
};

/** The npm to run: `TASKRT_NPM` lets tests (and unusual setups) name another. */
function npmCommand(): string {
  return process.env.TASKRT_NPM || "npm";
}

/**
 * `npm install` in the new project. On a terminal npm draws its own progress; elsewhere its output
 * is passed on to stderr. A failure keeps the written files and says how to finish by hand.
 */
async function npmInstall(directory: string, given: string, io: CliIO): Promise<void> {
  const command = npmCommand();
  const terminal = io.progress !== undefined;
  const child = spawn(command, ["install", "--no-audit", "--no-fund"], { cwd: directory, stdio: terminal ? "inherit" : ["ignore", "pipe", "pipe"] });
  child.stdout?.on("data", (chunk: Buffer) => io.stderr(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => io.stderr(chunk.toString()));
  const outcome = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once("error", (error) => resolve({ code: null, error }));
    child.once("close", (code) => resolve({ code }));
  });
  if (outcome.code === 0) return;
  const why = outcome.error ? `could not run ${command}: ${outcome.error.message}` : `${command} install exited with code ${outcome.code}`;
  throw new TaskrtError("E_INIT_INSTALL", `the project is written, but installing its dependencies failed: ${why}`, {
    hint: `finish by hand: cd ${shellQuote(given)} && npm install`,
  });
}

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

function report(given: string, name: string, written: { file: string; replaced: boolean }[], dependency: TaskrtDependency, installed: boolean): string {
  const here = path.resolve(given) === process.cwd();
  const lines = [`created ${name} in ${here ? "the current directory" : given}:`];
  for (const { file, replaced } of written) lines.push(`  ${file}${replaced ? " (replaced)" : ""}`);
  const cd = here ? "" : `cd ${shellQuote(given)} && `;
  lines.push(
    "",
    `taskrt dependency: ${dependency.spec}`, `  (${dependency.reason})`,
    "",
    "next steps:",
    `  ${cd}${installed ? "" : "npm install && "}npm start`,
    "  npm test             (runs test/app.test.ts)",
    "  npm run typecheck    (tsc over the handlers and the test)",
  );
  return lines.join("\n") + "\n";
}

function shellQuote(text: string): string {
  return /^[\w./~-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}
