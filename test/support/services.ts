/**
 * @module test/support/services — lets tests that need a real server (PostgreSQL, RabbitMQ) skip
 * with a message where it does not answer, and fail under CI, where it must.
 *
 * Usage, skipping a whole suite (node:test does not run a skipped suite's body):
 *
 *   const skip = await serviceSkip("postgres", LOCAL_POSTGRES.host, LOCAL_POSTGRES.port);
 *   describe("postgres driver", { skip }, () => { … });
 *
 * or per test:
 *
 *   test("…", async (t) => {
 *     if (!(await requireService("postgres", "127.0.0.1", 5432))) return t.skip(serviceMessage("postgres", "127.0.0.1", 5432));
 *     …
 *   });
 *
 * Under CI the first form fails the test file with the message as it loads (node:test reports it
 * as a failed test), the second fails that test.
 */
import net from "node:net";

/** The local PostgreSQL of the development and CI machines: trust authentication, database `test`. */
export const LOCAL_POSTGRES = { host: "127.0.0.1", port: 5432, user: "postgres", database: "test" } as const;

/** How long a TCP connect may take before the service counts as not answering. */
export const PROBE_TIMEOUT_MS = 2000;

export function isCi(environment: NodeJS.ProcessEnv = process.env): boolean {
  return environment.CI === "true" || environment.CI === "1";
}

/** `postgres is not answering on 127.0.0.1:5432`, with what follows from it here. */
export function serviceMessage(name: string, host: string, port: number, ci = isCi()): string {
  return ci
    ? `${name} is not answering on ${host}:${port} (CI requires it)`
    : `${name} is not answering on ${host}:${port}: skipped (start it, or set CI=true to make this a failure)`;
}

/** Whether something accepts TCP connections on host:port within PROBE_TIMEOUT_MS. */
export function probeTcp(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (answered: boolean): void => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
  });
}

/**
 * True when the service answers. When it does not: false (the caller skips), or under CI=true
 * a rejection with `<name> is not answering on <host>:<port> (CI requires it)`.
 */
export async function requireService(name: string, host: string, port: number, environment: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (await probeTcp(host, port)) return true;
  const ci = isCi(environment);
  if (ci) throw new Error(serviceMessage(name, host, port, ci));
  return false;
}

/** For `describe(name, { skip }, …)`: false when the service answers, else the skip message (rejects under CI). */
export async function serviceSkip(name: string, host: string, port: number, environment: NodeJS.ProcessEnv = process.env): Promise<string | false> {
  return (await requireService(name, host, port, environment)) ? false : serviceMessage(name, host, port, isCi(environment));
}
