/**
 * @module drivers/queue/amqp-link — the driver's one connection to the broker, kept up: connecting
 * within `connection_timeout` at start, and reconnecting with exponential backoff after it drops.
 *
 * States: IDLE → open → CONNECTING → CONNECTED ⇄ RECONNECTING; close → CLOSED (from any state).
 * - CONNECTING: tries again (with backoff) until the connect deadline, except when the broker
 *   refused the login or the vhost: that will not change by waiting, so it fails at once.
 * - CONNECTED: `setup` ran on the connection (channels, declarations, consumers) before the state
 *   says so; a setup that fails closes the connection and counts as a failed attempt.
 * - RECONNECTING: entered when the connection closes without `close()` (broker restart, network,
 *   missed heartbeats); attempts continue without limit, their delay growing from
 *   `reconnect_delay` to `reconnect_max_delay`.
 */
import { connect, type ChannelModel, type Options, type SocketOptions } from "amqplib";
import { TaskrtError, errorMessage } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import { backoffDelay, type BackoffPolicy } from "../../backoff.ts";
import { formatDuration } from "../../duration.ts";
import { AMQP_QUEUE_ERROR, REPLY, replyCode, unreachableError } from "./amqp-errors.ts";
import type { AmqpEndpoint } from "./amqp-endpoint.ts";

const SOCKET_TIMEOUT_SLACK_MS = 1000;

export const LINK_STATES = {
  IDLE: "idle",
  CONNECTING: "connecting",
  CONNECTED: "connected",
  RECONNECTING: "reconnecting",
  CLOSED: "closed",
} as const;
export type LinkState = (typeof LINK_STATES)[keyof typeof LINK_STATES];

export interface AmqpLinkOptions {
  driverId: string;
  endpoint: AmqpEndpoint;
  connectOptions: Options.Connect;
  socketOptions: SocketOptions;
  connectTimeoutMs: number;
  reconnect: BackoffPolicy;
  logger: Logger;
  /** Prepares a fresh connection; the link counts as up only once it resolved. */
  setup(connection: ChannelModel): Promise<void>;
  /** The connection dropped: whatever was bound to it is gone. */
  onLost(reason: string): void;
  redact(text: string): string;
}

export class AmqpLink {
  private linkState: LinkState = LINK_STATES.IDLE;
  private connection: ChannelModel | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempt = 0;
  private lastFailure = "";
  private blockedReason: string | undefined;

  constructor(private readonly options: AmqpLinkOptions) {}

  get state(): LinkState {
    return this.linkState;
  }

  /** Why the link is down (the last connection error, redacted), or "" when it is up. */
  get failure(): string {
    return this.linkState === LINK_STATES.CONNECTED ? "" : this.lastFailure;
  }

  /** Set while the broker blocks publishers (a memory or disk alarm). */
  get blocked(): string | undefined {
    return this.blockedReason;
  }

  /** The live connection, or undefined while down. */
  get current(): ChannelModel | undefined {
    return this.linkState === LINK_STATES.CONNECTED ? this.connection : undefined;
  }

  /** Connects (and sets up) within the connect timeout, or fails with why. */
  async open(): Promise<void> {
    this.linkState = LINK_STATES.CONNECTING;
    const deadline = Date.now() + this.options.connectTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - Date.now();
      try {
        await this.connectAndSetup(Math.max(1, remaining));
        return;
      } catch (error) {
        this.lastFailure = this.describeFailure(error);
        if (this.isClosed()) throw this.closedError();
        if (isRefusal(error)) throw this.refusedError(error);
        const wait = backoffDelay(this.options.reconnect, attempt);
        if (Date.now() + wait >= deadline) throw this.startError(error);
        await sleep(wait);
        if (this.isClosed()) throw this.closedError();
      }
    }
  }

  // A method rather than a comparison: the state changes across awaits, which narrowing does not see.
  private isClosed(): boolean {
    return this.linkState === LINK_STATES.CLOSED;
  }

  /** Closes the connection; one whose broker no longer answers is cut after the connect timeout. */
  async close(): Promise<void> {
    const connection = this.connection;
    this.linkState = LINK_STATES.CLOSED;
    this.connection = undefined;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (connection) await closeWithin(connection, this.options.connectTimeoutMs);
  }

  private async connectAndSetup(timeoutMs: number): Promise<void> {
    const connection = await this.connectWithin(timeoutMs);
    if (this.isClosed()) {
      await closeWithin(connection, this.options.connectTimeoutMs);
      throw this.closedError();
    }
    let lostDuringSetup: string | undefined;
    const onCloseDuringSetup = (error?: Error) => {
      lostDuringSetup = error ? errorMessage(error) : "closed";
    };
    connection.on("error", () => {
      // The 'close' event that follows carries the error; a listener must exist or the process crashes.
    });
    connection.once("close", onCloseDuringSetup);
    try {
      await this.options.setup(connection);
    } catch (error) {
      await closeWithin(connection, this.options.connectTimeoutMs);
      throw error;
    }
    connection.off("close", onCloseDuringSetup);
    if (lostDuringSetup !== undefined) throw new Error(`connection closed during setup: ${lostDuringSetup}`);
    if (this.isClosed()) {
      await closeWithin(connection, this.options.connectTimeoutMs);
      throw this.closedError();
    }
    this.connection = connection;
    this.linkState = LINK_STATES.CONNECTED;
    this.reconnectAttempt = 0;
    this.blockedReason = undefined;
    connection.on("close", (error?: Error) => this.lost(connection, error));
    connection.on("blocked", (reason: string) => {
      this.blockedReason = reason;
      this.options.logger.warn(`broker blocks publishing: ${reason}; publishes fail until it lifts`);
    });
    connection.on("unblocked", () => {
      this.blockedReason = undefined;
      this.options.logger.info("broker accepts publishes again");
    });
  }

  /**
   * Our timer bounds the TCP and AMQP handshakes together (a broker that accepts but never answers
   * included); amqplib's socket timeout, a little later, only makes sure such a socket is destroyed.
   */
  private connectWithin(timeoutMs: number): Promise<ChannelModel> {
    const { endpoint } = this.options;
    return new Promise<ChannelModel>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new Error(`no AMQP handshake with ${endpoint.hostname}:${endpoint.port} within ${formatDuration(timeoutMs)}`));
      }, timeoutMs);
      connect(this.options.connectOptions, { ...this.options.socketOptions, timeout: timeoutMs + SOCKET_TIMEOUT_SLACK_MS }).then(
        (connection) => {
          clearTimeout(timer);
          if (settled) void connection.close().catch(() => undefined);
          else resolve(connection);
        },
        (error: unknown) => {
          clearTimeout(timer);
          if (!settled) reject(error);
        },
      );
    });
  }

  private lost(connection: ChannelModel, error: Error | undefined): void {
    if (this.connection !== connection || this.linkState !== LINK_STATES.CONNECTED) return;
    this.connection = undefined;
    this.linkState = LINK_STATES.RECONNECTING;
    this.lastFailure = error ? this.describeFailure(error) : "the broker closed the connection";
    this.options.onLost(this.lastFailure);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.linkState !== LINK_STATES.RECONNECTING) return;
    const attempt = ++this.reconnectAttempt;
    const delay = backoffDelay(this.options.reconnect, attempt);
    this.options.logger.warn(`connection to ${this.options.endpoint.maskedUrl} is down (${this.lastFailure}); reconnect attempt ${attempt} in ${formatDuration(delay)}`);
    this.reconnectTimer = setTimeout(() => void this.reconnect(attempt), delay);
  }

  private async reconnect(attempt: number): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.linkState !== LINK_STATES.RECONNECTING) return;
    try {
      await this.connectAndSetup(this.options.connectTimeoutMs);
      this.options.logger.info(`reconnected to ${this.options.endpoint.maskedUrl} after ${attempt} attempt${attempt === 1 ? "" : "s"}`);
    } catch (error) {
      if (this.linkState !== LINK_STATES.RECONNECTING) return;
      this.lastFailure = this.describeFailure(error);
      this.scheduleReconnect();
    }
  }

  private describeFailure(error: unknown): string {
    return this.options.redact(errorMessage(error));
  }

  private startError(error: unknown): TaskrtError {
    const { endpoint, connectTimeoutMs } = this.options;
    return unreachableError(this.options.driverId, `${this.describeFailure(error)} (gave up after ${formatDuration(connectTimeoutMs)})`, {
      hint: `check that the broker at ${endpoint.maskedUrl} is running and reachable from here; raise connection_timeout to wait longer at start`,
      cause: error,
    });
  }

  private refusedError(error: unknown): TaskrtError {
    const { endpoint, driverId } = this.options;
    const reason = this.describeFailure(error);
    const vhost = replyCode(error) === REPLY.NOT_ALLOWED || /ConnectionOpenOk/.test(reason);
    return new TaskrtError(
      AMQP_QUEUE_ERROR.UNAVAILABLE,
      vhost
        ? `queue broker ${driverId} refused access to vhost "${endpoint.vhost}" for user ${endpoint.username}`
        : `queue broker ${driverId} refused the login of user ${endpoint.username}: ${reason.replace(/^Handshake terminated by server: /, "")}`,
      {
        entryId: driverId,
        hint: vhost
          ? `create the vhost and grant the user access (rabbitmqctl add_vhost / set_permissions), or fix vhost in ${endpoint.maskedUrl}`
          : "check the user and password in url (or the variable named by url_env)",
        cause: error,
      },
    );
  }

  private closedError(): TaskrtError {
    return new TaskrtError(AMQP_QUEUE_ERROR.STOPPED, `queue driver ${this.options.driverId} was stopped while connecting`, { entryId: this.options.driverId });
  }
}

/**
 * A clean close waits for the broker's close-ok, which never comes over a dead socket; then the
 * socket is destroyed (amqplib keeps it at `connection.stream`) so nothing is left holding it.
 */
export async function closeWithin(connection: ChannelModel, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    connection.close().then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  // With an error, so amqplib sees the socket fail, marks the connection closed and stops its heartbeat timer.
  if (!closed) (connection as unknown as { connection?: { stream?: { destroy?(error: Error): void } } }).connection?.stream?.destroy?.(new Error(`no answer to the close within ${formatDuration(timeoutMs)}`));
}

/** The broker answered but said no: a wrong login or an inaccessible vhost. Waiting will not help. */
function isRefusal(error: unknown): boolean {
  const code = replyCode(error);
  if (code === REPLY.ACCESS_REFUSED || code === REPLY.NOT_ALLOWED) return true;
  const message = errorMessage(error);
  return /ACCESS[-_]REFUSED/.test(message) || /Expected ConnectionOpenOk; got <ConnectionClose/.test(message);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
