/**
 * @module modules/io — the terminal of a process run with `taskrt run -x`, as Wippy's `io`:
 * write to stdout (and stderr), read lines or bytes from stdin, the command-line arguments.
 * Outside a terminal (an endpoint, a consumer) every call fails with UNAVAILABLE.
 */
import { TaskrtError } from "../errors.ts";
import type { TerminalSession } from "../contracts/process-services.ts";
import { useModule } from "./context.ts";

/** Default (and fallback for sizes ≤ 0) of `io.read`, as Wippy. */
const DEFAULT_READ_SIZE = 1024;

function terminal(): { session: TerminalSession; signal?: AbortSignal } {
  const context = useModule("io");
  if (!context.terminal) {
    throw new TaskrtError("E_IO_UNAVAILABLE", `io: ${context.entryId} has no terminal: io works only in a process run on a terminal (taskrt run -x)`, { entryId: context.entryId });
  }
  return { session: context.terminal, signal: context.signal };
}

export const io = {
  /** Writes the texts as they are, with nothing between or after them. */
  write(...texts: string[]): Promise<void> {
    return terminal().session.write(texts.join(""));
  },
  /** Writes the texts separated by tabs, then an end of line. */
  print(...texts: string[]): Promise<void> {
    return terminal().session.write(texts.join("\t") + "\n");
  },
  /** `print`, to stderr. */
  eprint(...texts: string[]): Promise<void> {
    return terminal().session.writeError(texts.join("\t") + "\n");
  },
  /** The next line of stdin without its end of line; undefined at the end of the input. */
  readline(): Promise<string | undefined> {
    const { session, signal } = terminal();
    return session.readLine(signal);
  },
  read(size = DEFAULT_READ_SIZE): Promise<string | undefined> {
    const { session, signal } = terminal();
    return session.read(size > 0 ? size : DEFAULT_READ_SIZE, signal);
  },
  /** Writes go out as they are made: nothing is held back to flush. */
  flush(): void {
    terminal();
  },
  args(): string[] {
    return [...terminal().session.args];
  },
};
