import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough, Writable } from "node:stream";
import { createStreamTerminal } from "./stream-terminal.ts";

/** Stdout whose reader has gone away, as when the output is piped to `head` and head has exited. */
function closedPipe(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
    },
  });
}

test("a write to a closed pipe fails that write with E_IO_WRITE, not the process", async () => {
  const uncaught: unknown[] = [];
  const record = (error: unknown): void => void uncaught.push(error);
  process.on("uncaughtException", record);
  try {
    const terminal = createStreamTerminal({ input: new PassThrough(), output: closedPipe(), errorOutput: closedPipe() });
    await assert.rejects(terminal.write("Hello\n"), { code: "E_IO_WRITE", message: /io: cannot write: write EPIPE/ });
    await assert.rejects(terminal.writeError("oops\n"), { code: "E_IO_WRITE" });
    // The stream reports the failure as an 'error' event on a later tick; let it come.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(uncaught, []);
    terminal.close();
  } finally {
    process.off("uncaughtException", record);
  }
});

test("close() leaves no listeners on the output streams", () => {
  const output = new PassThrough();
  const errorOutput = new PassThrough();
  const terminal = createStreamTerminal({ input: new PassThrough(), output, errorOutput });
  terminal.close();
  assert.equal(output.listenerCount("error"), 0);
  assert.equal(errorOutput.listenerCount("error"), 0);
});
