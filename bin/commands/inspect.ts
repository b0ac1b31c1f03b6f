/**
 * @module bin/commands/inspect — `taskrt inspect PATH [ID]`: the validated registry as the runtime
 * sees it (defaults filled, references as full ids), as a table of entries or one entry in full.
 */
import { stringify } from "yaml";
import { formatLocation } from "../../runtime/errors.ts";
import { createKindTable } from "../../runtime/kinds/index.ts";
import { inspectEntry, summarizeEntries, type EntryDetail, type EntrySummary, type LifecycleSummary } from "../../runtime/registry/inspect.ts";
import { flagValue, flagValues } from "../args.ts";
import { formatTable, relativePath } from "../output.ts";
import { KINDS_FLAG, OVERRIDE_FLAG, checkedRegistry, projectKinds, registryPath, type Command } from "./command.ts";

export const inspectCommand: Command = {
  name: "inspect",
  usage: "inspect PATH [ID] [--format text|json]",
  description: "list the entries, or show one, as the runtime sees them",
  flags: [OVERRIDE_FLAG, KINDS_FLAG, { name: "format", choices: ["text", "json"], description: "for people (default) or as JSON" }],
  async run(args, io) {
    const { target, id } = registryPath(args, "inspect", true);
    const extra = await projectKinds(args, target);
    const registry = await checkedRegistry(target, flagValues(args, "override"), extra, "not inspecting", io);
    if (!registry) return 1;
    const kinds = createKindTable(extra);
    const json = flagValue(args, "format") === "json";
    if (id === undefined) {
      const entries = summarizeEntries(registry, kinds);
      io.stdout(json ? JSON.stringify({ entries }, null, 2) + "\n" : entryTable(entries));
    } else {
      const detail = inspectEntry(registry, kinds, id);
      io.stdout(json ? JSON.stringify(detail, null, 2) + "\n" : entryText(detail));
    }
    return 0;
  },
};

function entryTable(entries: EntrySummary[]): string {
  const rows = entries.map((entry) => [
    entry.id,
    entry.kind,
    formatLocation({ ...entry.location, file: relativePath(entry.location.file) }),
    entry.references.map((reference) => `${reference.field} → ${reference.target}`).join(", "),
  ]);
  return formatTable([["ID", "KIND", "DEFINED AT", "REFERENCES"], ...rows]);
}

function entryText(entry: EntryDetail): string {
  const width = Math.max(0, ...entry.references.map((reference) => reference.field.length));
  const referrerWidth = Math.max(0, ...entry.referenced_by.map((referrer) => referrer.id.length));
  return [
    `${entry.id} (${entry.kind})`,
    `defined at ${formatLocation({ ...entry.location, file: relativePath(entry.location.file) })}`,
    "",
    yamlSection("data", entry.data),
    yamlSection("meta", entry.meta),
    listSection(
      "references",
      entry.references.map((reference) => `${reference.field.padEnd(width)} → ${reference.target} (${reference.kind})`),
    ),
    listSection(
      "referenced by",
      entry.referenced_by.map((referrer) => `${referrer.id.padEnd(referrerWidth)}  ${referrer.field}`),
    ),
    lifecycleSection(entry.lifecycle),
  ].join("\n");
}

/** `name:` then the value as indented YAML, or `name: {}` when empty. */
function yamlSection(name: string, value: Record<string, unknown>): string {
  if (Object.keys(value).length === 0) return `${name}: {}\n`;
  const body = stringify(value, { lineWidth: 0 }).trimEnd();
  return `${name}:\n${indent(body)}\n`;
}

function listSection(name: string, lines: string[]): string {
  return lines.length ? `${name}:\n${indent(lines.join("\n"))}\n` : `${name}: none\n`;
}

function lifecycleSection(lifecycle: LifecycleSummary): string {
  if (!lifecycle.service) return "lifecycle: none (not a service: built at start, never started or stopped on its own)\n";
  const list = (ids: string[]) => (ids.length ? ids.join(", ") : "none");
  const boot = lifecycle.auto_start
    ? "started (auto_start)"
    : lifecycle.needed_by.length
      ? `started, needed by ${lifecycle.needed_by.join(", ")}`
      : "not started (no auto-start entry needs it; set lifecycle.auto_start: true to start it)";
  return [
    "lifecycle:",
    `  service, auto_start: ${lifecycle.auto_start}`,
    `  requires: ${list(lifecycle.requires)}`,
    `  starts after: ${list(lifecycle.starts_after)}`,
    `  at boot: ${boot}`,
  ].join("\n") + "\n";
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}
