/**
 * @module bench/lib/process-cpu — CPU time used by a running process (user + system, all its
 * threads), read from /proc/<pid>/stat, so a load run can say how much of the machine the server took.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";

export interface CpuSeconds {
  userSeconds: number;
  systemSeconds: number;
}

/** The process's CPU seconds so far; NaN in both where /proc is unavailable or the process is gone. */
export function readProcessCpu(pid: number): CpuSeconds {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return { userSeconds: Number.NaN, systemSeconds: Number.NaN };
  }
  return parseProcStat(stat, clockTicksPerSecond());
}

/**
 * utime and stime (fields 14 and 15, in clock ticks) of a /proc/<pid>/stat line. The command name
 * (field 2) is in parentheses and may itself hold spaces and parentheses, so fields are counted
 * from the last ")".
 */
export function parseProcStat(stat: string, ticksPerSecond: number): CpuSeconds {
  const afterName = stat.slice(stat.lastIndexOf(")") + 2).trim().split(/\s+/);
  // afterName[0] is field 3 (state): field n is afterName[n - 3].
  const utime = Number(afterName[11]);
  const stime = Number(afterName[12]);
  if (stat.lastIndexOf(")") < 0 || !Number.isInteger(utime) || !Number.isInteger(stime)) throw new Error(`cannot read /proc/<pid>/stat: ${stat.trim()}`);
  return { userSeconds: utime / ticksPerSecond, systemSeconds: stime / ticksPerSecond };
}

let ticks: number | undefined;

/** USER_HZ: 100 on every Linux build in use, asked once anyway. */
function clockTicksPerSecond(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}
