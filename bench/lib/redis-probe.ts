/** @module bench/lib/redis-probe — whether a Redis answers PING, without needing a Redis client installed. */
import net from "node:net";

/** Resolves with undefined when Redis answered PONG, else with the reason it did not. */
export function redisUnavailable(host: string, port: number, timeoutMs = 1_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let reply = "";
    const finish = (reason: string | undefined): void => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(timeoutMs, () => finish(`no answer from Redis at ${host}:${port} within ${timeoutMs} ms`));
    socket.on("error", (error) => finish(`no Redis at ${host}:${port} (${error.message})`));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (!reply.includes("\r\n")) return;
      finish(reply.startsWith("+PONG") ? undefined : `Redis at ${host}:${port} answered PING with ${JSON.stringify(reply.trim())}`);
    });
  });
}
