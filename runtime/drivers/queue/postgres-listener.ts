/**
 * @module drivers/queue/postgres-listener — the PostgreSQL queue's dedicated connection: it LISTENs
 * on the queue table's channel (so idle consumers wake the moment a publish commits anywhere) and
 * holds the session advisory lock that tells other processes this one is alive.
 *
 * States: CONNECTED ⇄ (connection lost) RECONNECTING, every `retryMs`, until `close()`. While it
 * reconnects, consumers still find messages by their fallback poll; the lock is taken again with
 * the same key, so this process's leases keep their owner.
 */
import { randomInt } from "node:crypto";
import type pg from "pg";
import { errorMessage } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import { OWNER_LOCK_CLASS } from "./postgres-schema.ts";

export interface ListenerOptions {
  connect: () => Promise<pg.Client>;
  channel: string;
  retryMs: number;
  logger: Logger;
  /** A notification: `payload` is the queue that got messages. */
  onNotify(queueName: string): void;
  /** Connected again after a loss: notifications may have been missed meanwhile. */
  onReconnect(): void;
}

export class QueueListener {
  /** The second key of this process's advisory lock; names the process in its leases. */
  ownerKey = 0;
  private client: pg.Client | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ListenerOptions) {}

  /** Connects, takes a lock key nobody holds, and listens; fails when the server cannot be reached. */
  async open(): Promise<void> {
    const client = await this.options.connect();
    try {
      for (let tries = 0; this.ownerKey === 0; tries++) {
        const key = randomInt(1, 2 ** 31 - 1);
        const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS locked", [OWNER_LOCK_CLASS, key]);
        if (rows[0]?.locked) this.ownerKey = key;
        else if (tries > 10) throw new Error("no free owner lock key after 10 tries");
      }
      await this.listenOn(client);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    // Ending the session releases the advisory lock: other processes may take back our leases from now on.
    await client?.end().catch(() => undefined);
  }

  private async listenOn(client: pg.Client): Promise<void> {
    client.on("notification", (message) => {
      if (message.channel === this.options.channel && message.payload) this.options.onNotify(message.payload);
    });
    client.on("error", (error) => this.lost(client, error));
    client.on("end", () => this.lost(client, new Error("connection ended")));
    await client.query(`LISTEN "${this.options.channel}"`);
    this.client = client;
  }

  private lost(client: pg.Client, error: Error): void {
    if (this.closed || this.client !== client) return;
    this.client = undefined;
    void client.end().catch(() => undefined);
    this.options.logger.warn("the queue's listening connection was lost; consumers poll until it is back", { error: errorMessage(error) });
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    this.retryTimer = setTimeout(() => void this.reconnect(), this.options.retryMs);
  }

  private async reconnect(): Promise<void> {
    let client: pg.Client | undefined;
    try {
      client = await this.options.connect();
      const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS locked", [OWNER_LOCK_CLASS, this.ownerKey]);
      if (!rows[0]?.locked) throw new Error(`owner lock ${this.ownerKey} is held by another session`);
      if (this.closed) throw new Error("closed meanwhile");
      await this.listenOn(client);
    } catch {
      await client?.end().catch(() => undefined);
      if (!this.closed) this.scheduleReconnect();
      return;
    }
    this.options.logger.info("the queue's listening connection is back");
    this.options.onReconnect();
  }
}
