/** @module bench/lib/machine — the facts about this machine and run that results are meaningless without. */
import os from "node:os";

export interface MachineFacts {
  date: string;
  cores: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  kernel: string;
  /** 1-minute load average when the facts were taken: other work on the machine skews every figure. */
  loadAverage: number;
}

export function describeMachine(now = new Date()): MachineFacts {
  return {
    date: now.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"),
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    loadAverage: os.loadavg()[0],
  };
}
