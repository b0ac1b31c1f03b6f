/**
 * @module kinds/queue-driver-amqp — `queue.driver.amqp`: the RabbitMQ queue driver as a supervised
 * entry. Its component stands for the driver, which `queue.queue` entries use; start connects
 * (within `connection_timeout`), stop closes the connection. The driver (and amqplib with it) is
 * imported on first use, so registries without RabbitMQ never load it.
 */
import { AMQP_UNSUPPORTED } from "../drivers/queue/amqp-unsupported.ts";
import type { ChannelModel } from "amqplib";
import { parseDuration } from "../duration.ts";
import type { Entry } from "../registry/entry.ts";
import type { AmqpQueueDriver, AmqpQueueDriverOptions, AmqpTlsSettings } from "../drivers/queue/amqp.ts";
import type { ConsumeOptions, Delivery, Headers, PublishOptions, QueueDriver, QueueStats, Subscription } from "../drivers/queue/driver.ts";
import { resolveAmqpEndpoint, resolveEnvPlaceholders } from "../drivers/queue/amqp-endpoint.ts";
import type { Component } from "../contracts/component.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import { defineKind } from "../contracts/kind-definition.ts";

let driverModule: Promise<typeof import("../drivers/queue/amqp.ts")> | undefined;

/** The driver module, imported once; a failed import is tried again next time rather than remembered. */
function loadDriver(): Promise<typeof import("../drivers/queue/amqp.ts")> {
  driverModule ??= import("../drivers/queue/amqp.ts").catch((error: unknown) => {
    driverModule = undefined;
    throw error;
  });
  return driverModule;
}

/**
 * The entry's component: its settings are read at build time; every call goes to the driver's
 * `AmqpQueueDriver`, built when the driver is first needed (normally by start).
 */
export class AmqpDriverComponent implements QueueDriver, Component {
  readonly id: string;
  readonly durable = true;
  /** What RabbitMQ cannot do of the queue capabilities, and why; known before amqplib loads. */
  readonly unsupported = AMQP_UNSUPPORTED;
  readonly settings: Readonly<AmqpQueueDriverOptions>;
  #driver: AmqpQueueDriver | undefined;
  #loading: Promise<AmqpQueueDriver> | undefined;

  constructor(settings: AmqpQueueDriverOptions) {
    this.id = settings.id;
    this.settings = settings;
  }

  /** `amqp 127.0.0.1:5672/ (durable)`, plus the outage when there is one. Never the credentials. */
  describe(): string {
    const { endpoint } = this.settings;
    return this.#driver?.describe() ?? `${endpoint.protocol} ${endpoint.address} (durable)`;
  }

  async start(): Promise<void> {
    return (await this.#load()).start();
  }

  stop(): Promise<void> {
    if (this.#driver) return this.#driver.stop();
    return this.#loading ? this.#loading.then((driver) => driver.stop()) : Promise.resolve();
  }

  async declare(queueName: string, options?: Record<string, unknown>): Promise<void> {
    return (this.#driver ?? (await this.#load())).declare(queueName, options);
  }

  publish(queueName: string, body: unknown, headers: Headers, options?: PublishOptions): Promise<string> {
    if (this.#driver) return this.#driver.publish(queueName, body, headers, options);
    return this.#load().then((driver) => driver.publish(queueName, body, headers, options));
  }

  async consume(queueName: string, options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Subscription> {
    return (this.#driver ?? (await this.#load())).consume(queueName, options, onDelivery);
  }

  async stats(queueName: string): Promise<QueueStats> {
    return (this.#driver ?? (await this.#load())).stats(queueName);
  }

  /** The live broker connection, if any (tests and diagnostics). */
  currentConnection(): ChannelModel | undefined {
    return this.#driver?.currentConnection();
  }

  #load(): Promise<AmqpQueueDriver> {
    if (this.#driver) return Promise.resolve(this.#driver);
    this.#loading ??= loadDriver().then(
      ({ AmqpQueueDriver }) => (this.#driver = new AmqpQueueDriver(this.settings)),
      (error: unknown) => {
        this.#loading = undefined;
        throw error;
      },
    );
    return this.#loading;
  }
}

/** `entry.data` after validation filled the schema's defaults. */
interface AmqpEntryData {
  url: string;
  url_env?: string;
  vhost?: string;
  connection_name?: string;
  auth_mechanism: "PLAIN" | "AMQPLAIN" | "EXTERNAL";
  heartbeat: string | number;
  connection_timeout: string | number;
  reconnect_delay: string | number;
  reconnect_max_delay: string | number;
  prefetch_count: number;
  max_priority: number;
  frame_size?: number;
  channel_max?: number;
  tls: { enabled: boolean; server_name?: string; cert?: string; key?: string; ca?: string; insecure_skip_verify: boolean };
}

/**
 * Reads the entry; resolves `url_env` and `${env:…}` placeholders now, so a missing variable stops
 * the registry at build time rather than at the first publish. Opens nothing.
 */
export function createAmqpQueueDriver(entry: Entry, context: BuildContext, env: Record<string, string | undefined> = process.env): AmqpDriverComponent {
  const data = entry.data as unknown as AmqpEntryData;
  const endpoint = resolveAmqpEndpoint(entry.id, { url: data.url, urlEnv: data.url_env, vhost: data.vhost, tls: data.tls.enabled }, env);
  const heartbeatMs = parseDuration(data.heartbeat);
  return new AmqpDriverComponent({
    id: entry.id,
    endpoint,
    connectionName: data.connection_name === undefined ? `taskrt ${entry.id}` : resolveEnvPlaceholders(data.connection_name, env, { driverId: entry.id, field: "connection_name" }),
    authMechanism: data.auth_mechanism,
    // AMQP negotiates heartbeats in whole seconds; anything above zero asks for at least one.
    heartbeatSeconds: heartbeatMs === 0 ? 0 : Math.max(1, Math.round(heartbeatMs / 1000)),
    connectTimeoutMs: parseDuration(data.connection_timeout),
    reconnectDelayMs: parseDuration(data.reconnect_delay),
    reconnectMaxDelayMs: parseDuration(data.reconnect_max_delay),
    prefetchCap: data.prefetch_count,
    maxPriority: data.max_priority,
    frameMax: data.frame_size,
    channelMax: data.channel_max,
    tls: endpoint.protocol === "amqps" ? tlsSettings(entry, data.tls, env) : undefined,
    logger: context.logger.forEntry(entry.id),
  });
}

function tlsSettings(entry: Entry, tls: AmqpEntryData["tls"], env: Record<string, string | undefined>): AmqpTlsSettings {
  const resolve = (field: string, value: string | undefined) =>
    value === undefined ? undefined : resolveEnvPlaceholders(value, env, { driverId: entry.id, field: `tls.${field}` });
  return {
    serverName: resolve("server_name", tls.server_name),
    cert: resolve("cert", tls.cert),
    key: resolve("key", tls.key),
    ca: resolve("ca", tls.ca),
    insecureSkipVerify: tls.insecure_skip_verify,
  };
}

export default defineKind({
  kind: "queue.driver.amqp",
  summary: "Durable queue driver on RabbitMQ: publisher confirms, per-consumer prefetch, delay queues for retries, dead messages kept, reconnects on its own",
  references: [],
  service: true,
  // The URL's parts are encoded as they are substituted; the rest is read at each connect too.
  placeholdersAtStart: [["url"], ["vhost"], ["connection_name"], ["tls"]],
  create: (entry, context) => createAmqpQueueDriver(entry, context),
});
