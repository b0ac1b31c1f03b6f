/**
 * @module drivers/sql/sqlite-writer/worker — the writer thread: hosts the database (host.ts) and
 * sends its answers batched, one array per turn of its event loop.
 */
import { parentPort, workerData } from "node:worker_threads";
import { WriterHost } from "./host.ts";
import type { FromWriter, ToWriter, WriterSettings } from "./protocol.ts";

const port = parentPort!;
let outbox: FromWriter[] = [];
const flush = (): void => {
  const batch = outbox;
  outbox = [];
  port.postMessage(batch);
};
const host = new WriterHost(workerData as WriterSettings, (message) => {
  if (outbox.length === 0) setImmediate(flush);
  outbox.push(message);
});
port.on("message", (batch: ToWriter[]) => {
  host.receiveAll(batch);
});
