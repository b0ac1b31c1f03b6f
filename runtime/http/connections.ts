/**
 * @module http/connections — bounds the connections of one server, so sockets that send nothing
 * cannot starve real clients: a connection that sends nothing is closed once Node's header check
 * finds it past `timeouts.read`, and past `max_connections` new connections are refused, logged
 * once per burst.
 */
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import type { Duplex } from "node:stream";
import { formatDuration } from "../duration.ts";
import type { Logger } from "../logger.ts";

/** How long a burst of refusals is counted quietly after the line that announced it. */
const REFUSAL_LOG_INTERVAL = 10_000;

export interface ConnectionLimits {
  entryId: string;
  /** Open connections at most; 0: no cap. */
  maxConnections: number;
}

/** Node's own answers to a request it cannot parse or that timed out, for a socket that asked something. */
const CLIENT_ERROR_RESPONSES: Record<string, string> = {
  ERR_HTTP_REQUEST_TIMEOUT: "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n",
  HPE_HEADER_OVERFLOW: "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n",
  HPE_CHUNK_EXTENSIONS_OVERFLOW: "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n",
};
const BAD_REQUEST_RESPONSE = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";

/**
 * Node's header check (`headersTimeout`, every `connectionsCheckingInterval`) does find a socket
 * that never sent a byte, but its default answer — a 408 written, then destroy — was seen (Node 20)
 * to leave such a connection open on the client's side for good. A socket that asked nothing is
 * destroyed without an answer; every other client error gets Node's answer, as before.
 */
export function limitConnections(server: Server, limits: ConnectionLimits, logger: Logger): void {
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex & { bytesRead?: number; _httpMessage?: { headersSent: boolean } | null }) => {
    if (socket.bytesRead === 0) {
      socket.destroy();
      return;
    }
    if (socket.writable && !socket._httpMessage?.headersSent) socket.write(CLIENT_ERROR_RESPONSES[error.code ?? ""] ?? BAD_REQUEST_RESPONSE);
    socket.destroy(error);
  });
  const warning = fileLimitWarning(limits.maxConnections, openFileLimit());
  if (warning !== undefined) logger.warn(`${limits.entryId}: ${warning}`);
  if (limits.maxConnections > 0) {
    server.maxConnections = limits.maxConnections;
    let refused = 0;
    server.on("drop", () => {
      refused++;
      if (refused > 1) return;
      logger.warn(`${limits.entryId} refuses new connections: max_connections (${limits.maxConnections}) are open`);
      const timer = setTimeout(() => {
        if (refused > 1) {
          logger.warn(
            `${limits.entryId} refused ${refused} connections in ${formatDuration(REFUSAL_LOG_INTERVAL)}: max_connections (${limits.maxConnections}) were open`,
          );
        }
        refused = 0;
      }, REFUSAL_LOG_INTERVAL);
      timer.unref();
    });
  }
}

/** The process's soft limit on open files (`ulimit -n`), where Linux tells it; undefined elsewhere. */
export function openFileLimit(): number | undefined {
  let text: string;
  try {
    text = readFileSync("/proc/self/limits", "utf8");
  } catch {
    return undefined;
  }
  const match = /^Max open files\s+(\d+)/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

/**
 * Past the file limit, accepting fails inside libuv, which resets the client and tells nobody: the
 * cap only gives its logged refusal if it is reached first, so say so when it cannot be.
 */
export function fileLimitWarning(maxConnections: number, fileLimit: number | undefined): string | undefined {
  if (fileLimit === undefined || (maxConnections > 0 && maxConnections < fileLimit)) return undefined;
  const cap = maxConnections === 0 ? `max_connections is 0 (no cap) under an open-file limit of ${fileLimit}` : `max_connections (${maxConnections}) is not below the open-file limit (${fileLimit})`;
  return `${cap}: once files run out, new clients are reset without a log line; set max_connections below ulimit -n, leaving room for databases and files`;
}
