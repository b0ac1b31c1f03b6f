/** @module bench/lib/process-cpu — the CPU time a process has used so far, read from /proc (Linux). */
import fs from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ, 100 on every Linux Node supports). */
const TICKS_PER_SECOND = 100;

/** User plus system CPU seconds of `pid` so far; NaN where /proc is unavailable or the process is gone. */
export function readCpuSeconds(pid: number): number {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return Number.NaN;
  }
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** A share of one core as "43%", or "n/a" when either reading was unavailable. */
export function coreShare(cpuSeconds: number, wallSeconds: number): string {
  return Number.isFinite(cpuSeconds) && wallSeconds > 0 ? `${Math.round((cpuSeconds / wallSeconds) * 100)}%` : "n/a";
}
