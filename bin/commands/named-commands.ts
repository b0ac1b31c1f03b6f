/**
 * @module bin/commands/named-commands — Wippy's named commands: a process entry with
 * `meta.command.name` runs as `taskrt run [PATH] NAME [args…]` (as `wippy run NAME`), the way
 * `-x` runs it; `taskrt run [PATH] list` lists them.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { TaskrtError } from "../../runtime/errors.ts";
import type { Entry, Registry } from "../../runtime/registry/entry.ts";
import { flagValue, type ParsedArgs } from "../args.ts";
import { checkedRegistry, projectKinds } from "./command.ts";
import type { CliIO } from "../output.ts";
import { flagValues } from "../args.ts";
import type { ExecRequest } from "./run-exec.ts";

interface CommandMeta {
  name?: unknown;
  short?: unknown;
}

function commandOf(entry: Entry): { name: string; short?: string } | undefined {
  const meta = entry.meta.command as CommandMeta | undefined;
  if (!meta || typeof meta !== "object" || typeof meta.name !== "string" || !entry.kind.startsWith("process.")) return undefined;
  return { name: meta.name, short: typeof meta.short === "string" ? meta.short : undefined };
}

/**
 * `run PATH NAME args…`, or `run NAME args…` from a project folder (one with wippy.lock) when NAME
 * is no path; undefined for a plain `run PATH`.
 */
export function readCommandArgs(args: ParsedArgs, exists: (file: string) => boolean = existsSync): ExecRequest & { command: string } | undefined {
  const [first, second, ...others] = args.positional;
  if (first === undefined) return undefined;
  const host = flagValue(args, "host");
  const rest = args.rest ?? [];
  if (exists(first)) return second === undefined ? undefined : { target: first, command: second, host, processArgs: [...others, ...rest] };
  if (!exists("wippy.lock")) return undefined;
  return { target: ".", command: first, host, processArgs: [...args.positional.slice(1), ...rest] };
}

/** The process entry registered as command `name`. */
export function commandEntry(registry: Registry, name: string): string {
  const matches = registry.entries.filter((entry) => commandOf(entry)?.name === name);
  if (matches.length === 1) return matches[0].id;
  const names = registry.entries.flatMap((entry) => commandOf(entry)?.name ?? []);
  if (matches.length > 1) throw new TaskrtError("E_COMMAND_AMBIGUOUS", `command ${name} is registered by ${matches.map((entry) => entry.id).join(" and ")}`, { hint: "run one with -x ns:entry" });
  throw new TaskrtError("E_COMMAND_NOT_FOUND", `no command ${name}: no process entry has meta.command.name: ${name}`, {
    hint: names.length ? `commands: ${names.join(", ")}` : "a process.lua entry becomes a command with meta: { command: { name: …, short: … } }; or run an entry with -x ns:entry",
  });
}

/** `run list`: the commands, one a line: name, what it does, its entry. */
export async function listCommands(args: ParsedArgs, io: CliIO, target: string): Promise<number> {
  const registry = await checkedRegistry(target, flagValues(args, "override"), await projectKinds(args, target), "cannot list the commands", io);
  if (!registry) return 1;
  const commands = registry.entries.flatMap((entry) => {
    const command = commandOf(entry);
    return command ? [{ ...command, id: entry.id }] : [];
  });
  if (commands.length === 0) {
    io.stdout(`no commands in ${path.relative(process.cwd(), target) || "."}: give a process entry meta.command.name\n`);
    return 0;
  }
  const width = Math.max(...commands.map((command) => command.name.length));
  for (const command of commands) io.stdout(`  ${command.name.padEnd(width)}  ${command.short ?? ""}${command.short ? " " : ""}(${command.id})\n`);
  return 0;
}
