/**
 * @module bin/output — where the CLI writes, and the small formats every command shares: paths
 * relative to the working directory, problem counts, aligned tables and progress lines.
 */
import path from "node:path";
import type { Problem } from "../runtime/errors.ts";

export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Progress lines go to stderr only when it is a terminal: logs and pipes stay clean. */
  progress?: (text: string) => void;
}

export const defaultIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  progress: process.stderr.isTTY ? (text) => process.stderr.write(`${text}\n`) : undefined,
};

/** A path under the working directory as `a/b`, anything else as given. */
export function relativePath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith("..") || path.isAbsolute(relative) ? file : relative;
}

/** `2 errors, 1 warning` */
export function problemCounts(problems: readonly Problem[]): string {
  const errors = problems.filter((problem) => problem.severity === "error").length;
  const warnings = problems.length - errors;
  return `${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}`;
}

/** Columns padded to their widest cell, two spaces apart, no trailing blanks. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join("  ").trimEnd() + "\n").join("");
}
