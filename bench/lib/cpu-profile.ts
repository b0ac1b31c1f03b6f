/**
 * @module bench/lib/cpu-profile — summarises a `node --cpu-prof` profile: the functions with the
 * most self time, and self time per area (a repository file, a package, node's internals). Native
 * frames (no source URL, e.g. better-sqlite3's statement.run, which includes the fsync) are
 * charged to "native, called from" the nearest caller that has a source. A third view charges
 * every sample, inclusively, to the app handler file it ran under (intake vs consumers).
 */
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "./settings.ts";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  selfMs: number;
  /** Share of all sampled time, 0..1. */
  share: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  functions: SelfTime[];
  areas: SelfTime[];
  /** All time (self and below) under each handler file of the app, the rest as one line. */
  handlers: SelfTime[];
}

/** The folder whose files are the handlers being measured. */
const HANDLER_FOLDER = `${REPO_ROOT}${path.sep}app${path.sep}`;
/** A TypeScript handler as taskrt runs it: compiled into node_modules/.cache/taskrt/<name>-<hash>-<hash>.mjs. */
const COMPILED_HANDLER = /[\\/]\.cache[\\/]taskrt[\\/]([^\\/]+?)-[0-9a-f]+-[0-9a-f]+\.mjs$/;
const OUTSIDE_HANDLERS = "outside any handler (HTTP, queue machinery, commits, GC, idle)";

/** Frames the profiler adds itself: time outside JavaScript. */
const SPECIAL = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

export function summarizeCpuProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

  const selfByNode = new Map<number, number>();
  profile.samples.forEach((id, index) => selfByNode.set(id, (selfByNode.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));

  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  const handlers = new Map<string, number>();
  let total = 0;
  for (const [id, microseconds] of selfByNode) {
    const node = byId.get(id)!;
    total += microseconds;
    add(handlers, handlerOf(node.id, byId, parentOf) ?? OUTSIDE_HANDLERS, microseconds);
    const frame = node.callFrame;
    if (SPECIAL.has(frame.functionName)) {
      add(functions, frame.functionName, microseconds);
      add(areas, frame.functionName, microseconds);
      continue;
    }
    if (frame.url === "") {
      const caller = nearestSourced(node.id, byId, parentOf);
      const from = caller ? `${functionLabel(caller.callFrame)} ${location(caller.callFrame)}` : "?";
      add(functions, `${frame.functionName || "(anonymous)"} [native] ← ${from}`, microseconds);
      add(areas, `native, called from ${caller ? areaOf(caller.callFrame.url) : "?"}`, microseconds);
      continue;
    }
    add(functions, `${functionLabel(frame)} ${location(frame)}`, microseconds);
    add(areas, areaOf(frame.url), microseconds);
  }
  return { file, totalMs: total / 1000, functions: ranked(functions, total, top), areas: ranked(areas, total, top), handlers: ranked(handlers, total, top) };
}

/** The app handler file this frame or its nearest ancestor belongs to. */
function handlerOf(id: number, byId: Map<number, ProfileNode>, parentOf: Map<number, number>): string | undefined {
  let current: number | undefined = id;
  while (current !== undefined) {
    const url = byId.get(current)!.callFrame.url;
    if (url.startsWith("file://")) {
      const filePath = decodeURIComponent(new URL(url).pathname);
      if (filePath.startsWith(HANDLER_FOLDER)) return `under ${shortUrl(url)}`;
      const compiled = COMPILED_HANDLER.exec(filePath);
      if (compiled) return `under app/${compiled[1]}.ts`;
    }
    current = parentOf.get(current);
  }
  return undefined;
}

function nearestSourced(id: number, byId: Map<number, ProfileNode>, parentOf: Map<number, number>): ProfileNode | undefined {
  let current = parentOf.get(id);
  while (current !== undefined) {
    const node = byId.get(current)!;
    if (node.callFrame.url !== "") return node;
    current = parentOf.get(current);
  }
  return undefined;
}

function functionLabel(frame: CallFrame): string {
  return frame.functionName || "(anonymous)";
}

/** tsx hands V8 each TypeScript file as one line, so a line number is shown only where it says something. */
function location(frame: CallFrame): string {
  return frame.lineNumber > 0 ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : shortUrl(frame.url);
}

/** Repository files relative to the root; packages from their name on; node's own as node:… */
function shortUrl(url: string): string {
  const filePath = url.startsWith("file://") ? decodeURIComponent(new URL(url).pathname) : url;
  const modules = filePath.lastIndexOf("/node_modules/");
  if (modules >= 0) return filePath.slice(modules + "/node_modules/".length);
  if (filePath.startsWith(REPO_ROOT + path.sep)) return filePath.slice(REPO_ROOT.length + 1);
  return filePath;
}

/** A repository file, a package, or node's internals. */
function areaOf(url: string): string {
  const short = shortUrl(url);
  if (url.startsWith("node:")) return "node internals (node:*)";
  const filePath = url.startsWith("file://") ? decodeURIComponent(new URL(url).pathname) : url;
  if (filePath.includes("/node_modules/")) {
    const parts = short.split("/");
    return `package ${parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  return short;
}

function add(totals: Map<string, number>, key: string, microseconds: number): void {
  totals.set(key, (totals.get(key) ?? 0) + microseconds);
}

function ranked(totals: Map<string, number>, total: number, top: number): SelfTime[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, microseconds]) => ({ name, selfMs: microseconds / 1000, share: total > 0 ? microseconds / total : 0 }));
}

/** The summary as Markdown tables. */
export function renderProfileSummary(summary: ProfileSummary): string {
  const table = (heading: string, rows: SelfTime[], column = "self ms"): string =>
    [`| ${heading} | ${column} | share |`, "|---|---:|---:|", ...rows.map((row) => `| ${row.name.replaceAll("|", "\\|")} | ${row.selfMs.toFixed(0)} | ${(row.share * 100).toFixed(1)}% |`)].join("\n");
  return [
    `Profile \`${path.relative(REPO_ROOT, summary.file)}\`, ${(summary.totalMs / 1000).toFixed(1)} s sampled.`,
    "",
    table("where the time went (inclusive, by app handler)", summary.handlers, "ms"),
    "",
    table("area (self time)", summary.areas),
    "",
    table("function (self time)", summary.functions),
  ].join("\n");
}
