/**
 * @module kinds/queue-driver-amqp — `queue.driver.amqp`: the RabbitMQ queue driver as a supervised
 * entry. Its component is the driver itself, which `queue.queue` entries use; start connects
 * (within `connection_timeout`), stop closes the connection.
 */
import { parseDuration } from "../duration.ts";
import type { Entry } from "../registry/entry.ts";
import { AmqpQueueDriver, type AmqpTlsSettings } from "../drivers/queue/amqp.ts";
import { resolveAmqpEndpoint, resolveEnvPlaceholders } from "../drivers/queue/amqp-endpoint.ts";
import { defineKind, type BuildContext } from "./kind.ts";

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
export function createAmqpQueueDriver(entry: Entry, context: BuildContext, env: Record<string, string | undefined> = process.env): AmqpQueueDriver {
  const data = entry.data as unknown as AmqpEntryData;
  const endpoint = resolveAmqpEndpoint(entry.id, { url: data.url, urlEnv: data.url_env, vhost: data.vhost, tls: data.tls.enabled }, env);
  const heartbeatMs = parseDuration(data.heartbeat);
  return new AmqpQueueDriver({
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
  create: (entry, context) => createAmqpQueueDriver(entry, context),
});
