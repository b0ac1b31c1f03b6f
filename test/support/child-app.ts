/**
 * @module test/support/child-app — runs `node bin/taskrt.js run <registry>` as a child process on
 * a database file of the test's choosing, waits for it to be ready, and stops or kills it.
 *
 * The gateway listens on 127.0.0.1:0 and the helper reads the address the CLI prints, so no port is
 * ever guessed. Output is kept in memory: stderr holds the CLI's status lines, stdout its JSON logs.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { after } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const CLI = path.join(ROOT, "bin", "taskrt.js");
const READY = /^ready in \d+ms/m;
/** The gateway's line in the CLI's table of started services. */
const LISTENING = /listening on (http:\/\/[^\s]+)/;

/**
 * Every child still running, however its test ended. A test that times out leaves its body
 * running, maybe in the middle of a start its own cleanup does not know of yet; such a child would
 * keep the test file's process (and so the whole suite) alive, and go on using the CPU.
 */
const liveChildren = new Set<ChildProcess>();
after(() => {
  for (const child of liveChildren) child.kill("SIGKILL");
});

export interface ChildAppOptions {
  /** The SQLite file the app's database entry uses; reusing it across starts is the point. None: the registry's own database settings. */
  databaseFile?: string;
  /** Registry path, relative to the project root; the app by default. */
  registry?: string;
  /** Extra `-o ns:entry:field=value` overrides. */
  overrides?: readonly string[];
  /** More arguments for `taskrt run` (`--kinds ./kinds/x.ts`). */
  args?: readonly string[];
  /** The working directory: the project root by default; `registry` is relative to it. */
  cwd?: string;
  /** Environment added to the parent's (e.g. APP_WORK_DELAY). */
  env?: Readonly<Record<string, string>>;
  gateway?: string;
  database?: string;
  /** How long to wait for "ready" before giving up (generous: a loaded 2-core machine is slow). */
  readyTimeoutMs?: number;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildApp {
  readonly url: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** Resolves when the process has exited, however it ended. */
  readonly exited: Promise<ChildExit>;
  stdout(): string;
  stderr(): string;
  /** The stdout lines parsed as JSON log records (lines that are not JSON are skipped). */
  logRecords(): Record<string, unknown>[];
  isRunning(): boolean;
  /** SIGKILL: no shutdown code runs, as in a crash. */
  kill(): Promise<ChildExit>;
  /** Sends SIGTERM and waits for the exit; SIGKILLs after `timeoutMs` (30s) so a hang fails the test instead of stalling it. */
  terminate(timeoutMs?: number): Promise<ChildExit>;
}

export async function startChildApp(options: ChildAppOptions): Promise<ChildApp> {
  const app = spawnChildApp(options);
  try {
    (app as { url: string }).url = await waitForReady(app.process, app.stderr, app.exited, options.readyTimeoutMs ?? 60_000);
  } catch (error) {
    await app.kill();
    throw error;
  }
  return app;
}

/** Starts the child without waiting for it to be ready (its `url` stays empty): for tests of start-up itself. */
export function spawnChildApp(options: ChildAppOptions): ChildApp {
  const gateway = options.gateway ?? "app:gateway";
  const database = options.database ?? "app:db";
  const args = [CLI, "run", options.registry ?? "app/_index.yaml", "-o", `${gateway}:addr=127.0.0.1:0`];
  if (options.databaseFile !== undefined) args.push("-o", `${database}:file=${options.databaseFile}`);
  for (const override of options.overrides ?? []) args.push("-o", override);
  args.push(...(options.args ?? []));
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  let running = true;
  liveChildren.add(child);
  const exited = new Promise<ChildExit>((resolve) => {
    child.once("exit", (code, signal) => {
      running = false;
      liveChildren.delete(child);
      resolve({ code, signal });
    });
  });

  const app: { -readonly [key in keyof ChildApp]: ChildApp[key] } = {
    url: "",
    pid: child.pid ?? -1,
    process: child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    logRecords: () => parseLogLines(stdout),
    isRunning: () => running,
    kill: () => {
      if (running) child.kill("SIGKILL");
      return exited;
    },
    terminate: async (timeoutMs = 30_000) => {
      if (running) child.kill("SIGTERM");
      const timer = setTimeout(() => {
        if (running) child.kill("SIGKILL");
      }, timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };

  return app;
}

function waitForReady(child: ChildProcess, stderr: () => string, exited: Promise<ChildExit>, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const text = stderr();
      if (!READY.test(text)) return;
      const url = LISTENING.exec(text)?.[1];
      finish();
      if (url) resolve(url);
      else reject(new Error(`the app said ready but printed no "listening on" address:\n${text}`));
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`the app was not ready after ${timeoutMs}ms:\n${stderr()}`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      child.stderr!.off("data", check);
    };
    child.stderr!.on("data", check);
    void exited.then(({ code, signal }) => {
      finish();
      reject(new Error(`the app exited before it was ready (code ${code}, signal ${signal}):\n${stderr()}`));
    });
  });
}

function parseLogLines(text: string): Record<string, unknown>[] {
  const records: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      records.push(JSON.parse(line));
    } catch {
      // A line cut short by SIGKILL: not a record.
    }
  }
  return records;
}
