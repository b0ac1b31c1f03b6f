/**
 * @module drivers/queue/amqp-test-support — what the AMQP driver's tests share: the local RabbitMQ's
 * address, drivers on queue names unique to the test run and removed afterwards, a raw amqplib
 * channel to look at the broker, and a way to cut a connection from the broker's side.
 */
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { connect, type Channel } from "amqplib";
import { createLogger, type Logger } from "../../logger.ts";
import { resolveAmqpEndpoint } from "./amqp-endpoint.ts";
import { AmqpQueueDriver, type AmqpQueueDriverOptions } from "./amqp.ts";

export const RABBITMQ_HOST = "127.0.0.1";
export const RABBITMQ_PORT = 5672;
export const RABBITMQ_URL = `amqp://guest:guest@${RABBITMQ_HOST}:${RABBITMQ_PORT}/`;
export const TEST_DRIVER_ID = "test:amqp";

const run = promisify(execFile);

/** Drivers made for one test file: queue names prefixed uniquely for the run, deleted by `cleanUp`. */
export class TestDrivers {
  readonly prefix = `taskrt_test_${randomBytes(4).toString("hex")}_`;
  private readonly made: AmqpQueueDriver[] = [];
  private connections = 0;

  make(overrides: Partial<AmqpQueueDriverOptions> = {}): AmqpQueueDriver {
    const driver = new AmqpQueueDriver({
      id: TEST_DRIVER_ID,
      endpoint: resolveAmqpEndpoint(TEST_DRIVER_ID, { url: RABBITMQ_URL }),
      connectionName: this.connectionName(),
      authMechanism: "PLAIN",
      heartbeatSeconds: 10,
      connectTimeoutMs: 3000,
      reconnectDelayMs: 100,
      reconnectMaxDelayMs: 1000,
      prefetchCap: 0,
      maxPriority: 10,
      queueNamePrefix: this.prefix,
      logger: quietLogger(),
      ...overrides,
    });
    this.made.push(driver);
    return driver;
  }

  /** A connection name no other test uses: the handle to cut exactly this connection on the broker. */
  connectionName(): string {
    return `${this.prefix}connection_${++this.connections}`;
  }

  /** Stops every driver and deletes every queue they created. */
  async cleanUp(): Promise<void> {
    for (const driver of this.made) await driver.stop().catch(() => undefined);
    const names = new Set(this.made.flatMap((driver) => driver.brokerQueueNames()));
    if (names.size === 0) return;
    await withRawChannel(async (channel) => {
      for (const name of names) await channel.deleteQueue(name);
    });
  }
}

export function quietLogger(): Logger {
  return createLogger({ sink: { write() {} } });
}

/** A plain amqplib channel on its own connection, to look at the broker without the driver. */
export async function withRawChannel<T>(work: (channel: Channel) => Promise<T>): Promise<T> {
  const connection = await connect(RABBITMQ_URL);
  try {
    const channel = await connection.createChannel();
    // A refused operation rejects its promise; the channel's 'error' event must not crash the test.
    channel.on("error", () => undefined);
    return await work(channel);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Whether `rabbitmqctl` can talk to the local node (it needs the node's Erlang cookie). */
export async function rabbitmqctlAvailable(): Promise<boolean> {
  try {
    await run("rabbitmqctl", ["-q", "status"], { timeout: 15_000 });
    return true;
  } catch {
    return false;
  }
}

/** Closes, from the broker's side, the connection with this client-provided name. */
export async function closeConnectionOnBroker(connectionName: string, reason: string): Promise<void> {
  const { stdout } = await run("rabbitmqctl", ["list_connections", "pid", "client_properties", "-q"], { timeout: 15_000 });
  // Lines read `<rabbit@host.1.2.3>\t[{"connection_name","…"},…]`; the pid in this form is what close_connection takes.
  const line = stdout.split("\n").find((candidate) => candidate.includes(`{"connection_name","${connectionName}"}`));
  if (!line) throw new Error(`no broker connection named ${connectionName}`);
  await run("rabbitmqctl", ["close_connection", line.split("\t")[0], reason], { timeout: 15_000 });
}

/**
 * Makes the broker close the driver's connection now, from its side: a frame of a type AMQP does not
 * have is a connection error (501 FRAME_ERROR), and the broker answers it by closing the connection.
 * It takes one round trip, where `closeConnectionOnBroker` starts rabbitmqctl's Erlang VM (seconds on
 * a busy machine): a test can cut the connection before a broker-side timer such as a delay fires.
 */
export function provokeBrokerClose(driver: AmqpQueueDriver): void {
  const socket = (driver.currentConnection() as unknown as { connection: { stream: Socket } }).connection.stream;
  // type 9 (none such), channel 0, empty payload, frame end
  socket.write(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0xce]));
}

export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
