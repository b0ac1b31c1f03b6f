/**
 * @module drivers/queue/amqp-socket — what amqplib's `connect` is given: the handshake fields (address,
 * login, vhost, heartbeat, frame limits) and the socket options (client name, login mechanism, TLS
 * material read from its files).
 */
import { readFile } from "node:fs/promises";
import { credentials, type Options, type SocketOptions } from "amqplib";
import { TaskrtError, errorMessage } from "../../errors.ts";
import { AMQP_QUEUE_ERROR } from "./amqp-errors.ts";
import type { AmqpEndpoint } from "./amqp-endpoint.ts";

export interface AmqpTlsSettings {
  serverName?: string;
  /** PEM text, or the path of a PEM file. */
  cert?: string;
  key?: string;
  ca?: string;
  insecureSkipVerify: boolean;
}

export interface AmqpConnectionSettings {
  id: string;
  endpoint: AmqpEndpoint;
  connectionName: string;
  authMechanism: "PLAIN" | "AMQPLAIN" | "EXTERNAL";
  heartbeatSeconds: number;
  frameMax?: number;
  channelMax?: number;
  tls?: AmqpTlsSettings;
}

export function connectOptionsFor(settings: AmqpConnectionSettings): Options.Connect {
  const { endpoint } = settings;
  return {
    protocol: endpoint.protocol,
    hostname: endpoint.hostname,
    port: endpoint.port,
    username: endpoint.username,
    password: endpoint.password,
    vhost: endpoint.vhost,
    heartbeat: settings.heartbeatSeconds,
    frameMax: settings.frameMax,
    channelMax: settings.channelMax,
  };
}

/** Reads the TLS files, so it runs at start (I/O), not when the entry is built. */
export async function socketOptionsFor(settings: AmqpConnectionSettings): Promise<SocketOptions> {
  const { endpoint, authMechanism, connectionName, tls } = settings;
  const socket: SocketOptions = { noDelay: true, clientProperties: { connection_name: connectionName } };
  if (authMechanism === "EXTERNAL") socket.credentials = credentials.external();
  else if (authMechanism === "AMQPLAIN") socket.credentials = credentials.amqplain(endpoint.username, endpoint.password);
  if (tls) {
    if (tls.serverName !== undefined) socket.servername = tls.serverName;
    socket.rejectUnauthorized = !tls.insecureSkipVerify;
    if (tls.cert !== undefined) socket.cert = await pem(settings.id, "tls.cert", tls.cert);
    if (tls.key !== undefined) socket.key = await pem(settings.id, "tls.key", tls.key);
    if (tls.ca !== undefined) socket.ca = await pem(settings.id, "tls.ca", tls.ca);
  }
  return socket;
}

async function pem(driverId: string, field: string, value: string): Promise<string> {
  if (value.includes("-----BEGIN")) return value;
  try {
    return await readFile(value, "utf8");
  } catch (error) {
    throw new TaskrtError(AMQP_QUEUE_ERROR.CONFIG, `queue driver ${driverId}: ${field} names ${value}, which cannot be read: ${errorMessage(error)}`, {
      entryId: driverId,
      hint: `${field} takes PEM text or the path of a PEM file`,
      cause: error,
    });
  }
}
