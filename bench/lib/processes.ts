/**
 * @module bench/lib/processes — starts a server or worker as a child process, tells when its port
 * answers, reads its memory and CPU time, and stops it (SIGTERM, then SIGKILL if it lingers).
 */
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { readProcessCpu, type CpuSeconds } from "./process-cpu.ts";
import { readProcessMemory, type ProcessMemory } from "./process-memory.ts";
import { REPO_ROOT } from "./settings.ts";

export interface ProcessSpec {
  /** Names the process in messages. */
  label: string;
  /** Arguments after `node` (node options first, then the script). */
  nodeArgs: string[];
  env?: Record<string, string>;
}

/** Keeps the end of a child's output, for the message when it fails. */
const OUTPUT_KEPT = 16 * 1024;

export class RunningProcess {
  readonly label: string;
  /** performance.now() just before the spawn. */
  readonly spawnedAt: number;
  readonly #child: ChildProcess;
  readonly #exit: Promise<number | null>;
  #output = "";
  #exited = false;

  constructor(spec: ProcessSpec) {
    this.label = spec.label;
    this.spawnedAt = performance.now();
    this.#child = spawn(process.execPath, spec.nodeArgs, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...spec.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    // Always read the pipes: a child blocked on a full pipe would measure as a slow server.
    const keep = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString()).slice(-OUTPUT_KEPT);
    };
    this.#child.stdout!.on("data", keep);
    this.#child.stderr!.on("data", keep);
    this.#exit = new Promise((resolve) => {
      this.#child.on("error", (error) => {
        keep(Buffer.from(`\n${error.message}\n`));
        this.#exited = true;
        resolve(null);
      });
      this.#child.on("exit", (code) => {
        this.#exited = true;
        resolve(code);
      });
    });
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  get exited(): boolean {
    return this.#exited;
  }

  output(): string {
    return this.#output;
  }

  memory(): ProcessMemory {
    return readProcessMemory(this.pid);
  }

  /** User and system seconds it has used so far, all threads (NaN without /proc). */
  cpu(): CpuSeconds {
    return readProcessCpu(this.pid);
  }

  /** An Error naming this process and quoting the end of its output. */
  failure(what: string): Error {
    const tail = this.#output.trim().split("\n").slice(-15).join("\n");
    return new Error(`${this.label}: ${what}${tail ? `\n--- last output of ${this.label} ---\n${tail}` : ""}`);
  }

  /** SIGTERM, and SIGKILL after `graceMs`; resolves with the exit code (null when killed). */
  async stop(graceMs = 10_000): Promise<number | null> {
    if (this.#exited) return this.#exit;
    this.#child.kill("SIGTERM");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), graceMs);
    try {
      return await this.#exit;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Resolves with the ms from spawn until `url` answers with any HTTP status. */
export async function waitForHttp(child: RunningProcess, url: string, timeoutMs = 30_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exited) throw child.failure(`exited before ${url} answered`);
    if (await answers(url)) return performance.now() - child.spawnedAt;
    await sleep(5);
  }
  throw child.failure(`${url} did not answer within ${timeoutMs} ms`);
}

function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: 1_000 }, (response) => {
      response.resume();
      resolve(true);
    });
    request.on("timeout", () => request.destroy());
    request.on("error", () => resolve(false));
  });
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}
