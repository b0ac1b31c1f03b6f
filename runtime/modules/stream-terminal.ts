/**
 * @module modules/stream-terminal — a terminal over a process's streams (stdin, stdout, stderr),
 * as `taskrt run -x` hands one to the process it runs: lines and bytes read on demand from the
 * input, writes that wait for the stream to drain.
 */
import type { Readable, Writable } from "node:stream";
import { TaskrtError } from "../errors.ts";
import type { TerminalSession } from "../contracts/process-services.ts";

interface Waiter {
  take(): string | undefined | null;
  resolve(value: string | undefined): void;
}

export interface StreamTerminalOptions {
  input: Readable;
  output: Writable;
  errorOutput: Writable;
  args?: readonly string[];
}

export function createStreamTerminal(options: StreamTerminalOptions): TerminalSession & { close(): void } {
  const { input, output, errorOutput } = options;
  let buffer = "";
  let ended = false;
  let listening = false;
  const waiters: Waiter[] = [];
  // A failed write (stdout piped to `head`, which has exited: EPIPE) reaches its caller through the
  // write callback; without a listener the stream would also raise it as an uncaught exception.
  const onWriteError = (): void => {};
  output.on("error", onWriteError);
  errorOutput.on("error", onWriteError);

  /** Serves waiting readers in order, while the buffer can satisfy the first. */
  const serve = (): void => {
    while (waiters.length) {
      const taken = waiters[0].take();
      if (taken === null) break;
      waiters.shift()!.resolve(taken);
    }
    if (waiters.length === 0 && listening) input.pause();
  };
  const onData = (chunk: Buffer | string) => {
    buffer += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    serve();
  };
  const onEnd = () => {
    ended = true;
    serve();
  };
  const listen = (): void => {
    if (!listening) {
      listening = true;
      input.setEncoding?.("utf8");
      input.on("data", onData);
      input.on("end", onEnd);
      input.on("error", onEnd);
    }
    input.resume();
  };

  const wait = (take: () => string | undefined | null, signal?: AbortSignal): Promise<string | undefined> =>
    new Promise((resolve, reject) => {
      const waiter: Waiter = { take, resolve };
      waiters.push(waiter);
      if (signal) {
        const abort = () => {
          const at = waiters.indexOf(waiter);
          if (at >= 0) waiters.splice(at, 1);
          reject(new TaskrtError("E_CANCELED", "io: the read was cancelled"));
        };
        if (signal.aborted) return abort();
        signal.addEventListener("abort", abort, { once: true });
      }
      listen();
      serve();
    });

  const write = (stream: Writable, text: string): Promise<void> =>
    new Promise((resolve, reject) => {
      stream.write(text, (error) => (error ? reject(new TaskrtError("E_IO_WRITE", `io: cannot write: ${error.message}`)) : resolve()));
    });

  return {
    args: options.args ?? [],
    write: (text) => write(output, text),
    writeError: (text) => write(errorOutput, text),
    readLine: (signal) =>
      wait(() => {
        const newline = buffer.indexOf("\n");
        if (newline >= 0) {
          const line = buffer.slice(0, newline).replace(/\r$/, "");
          buffer = buffer.slice(newline + 1);
          return line;
        }
        if (!ended) return null;
        // The last line may have no end of line; after it, the end of the input.
        const rest = buffer;
        buffer = "";
        return rest === "" ? undefined : rest;
      }, signal),
    read: (size, signal) =>
      wait(() => {
        if (buffer.length > 0) {
          const bytes = Buffer.from(buffer, "utf8");
          const taken = bytes.subarray(0, size).toString("utf8");
          buffer = buffer.slice(taken.length);
          return taken;
        }
        return ended ? undefined : null;
      }, signal),
    close() {
      output.off("error", onWriteError);
      errorOutput.off("error", onWriteError);
      if (listening) {
        input.off("data", onData);
        input.off("end", onEnd);
        input.off("error", onEnd);
        input.pause();
      }
      for (const waiter of waiters.splice(0)) waiter.resolve(undefined);
    },
  };
}
