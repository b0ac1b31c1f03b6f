/**
 * @module http/listen — binds a Node server to its address, turning bind failures (port taken,
 * no permission, unknown host) into one clear E_LISTEN error naming the entry and the addr.
 */
import type { Server } from "node:http";
import { TaskrtError } from "../errors.ts";
import type { ListenAddress } from "./addr.ts";

const REASONS: Record<string, { reason: string; hint: (address: ListenAddress) => string }> = {
  EADDRINUSE: {
    reason: "address already in use",
    hint: (address) => `another process or http.service already listens on port ${address.port}; stop it or choose another port in addr`,
  },
  EACCES: {
    reason: "permission denied",
    hint: () => "ports below 1024 need elevated privileges; use a port of 1024 or above",
  },
  EADDRNOTAVAIL: {
    reason: "address not available",
    hint: (address) => `${address.host} is not an address of this machine; write ":${address.port}" to listen on every interface`,
  },
  ENOTFOUND: {
    reason: "host not found",
    hint: (address) => `${address.host} does not resolve; use an IP address or ":${address.port}"`,
  },
};

export function listen(server: Server, address: ListenAddress, entryId: string, addr: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.off("listening", onListening);
      const known = error.code ? REASONS[error.code] : undefined;
      reject(
        new TaskrtError("E_LISTEN", `${entryId} cannot listen on ${addr}: ${known?.reason ?? error.message}`, {
          entryId,
          hint: known?.hint(address),
          cause: error,
        }),
      );
    };
    const onListening = (): void => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen({ port: address.port, host: address.host });
  });
}
