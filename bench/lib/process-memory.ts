/** @module bench/lib/process-memory — a process's resident and peak resident memory, read from /proc. */
import fs from "node:fs";

export interface ProcessMemory {
  /** VmRSS in MB (1 MB = 2^20 bytes); NaN where /proc is unavailable. */
  rssMb: number;
  /** VmHWM, the peak resident set since the process started, in MB; NaN where /proc is unavailable. */
  peakRssMb: number;
}

export function readProcessMemory(pid: number): ProcessMemory {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return { rssMb: Number.NaN, peakRssMb: Number.NaN };
  }
  return { rssMb: kilobytesField(status, "VmRSS") / 1024, peakRssMb: kilobytesField(status, "VmHWM") / 1024 };
}

function kilobytesField(status: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
  return match ? Number(match[1]) : Number.NaN;
}
