/**
 * @module bench/load — a small closed-loop HTTP load generator: `connections` keep-alive
 * connections, each sending its next request as soon as the previous response has been read,
 * for a fixed duration; reports throughput and latency percentiles.
 *
 * Written on `node:http` so the benchmarks need no extra package. Closed loop means the server's
 * speed sets the rate (as autocannon does), so compare runs at the same `connections`.
 */
import http from "node:http";

export interface LoadOptions {
  url: string;
  method?: string;
  /** Sent with every request; an object is JSON-encoded once, up front. */
  body?: string | Buffer | object;
  headers?: Record<string, string>;
  connections?: number;
  durationMs?: number;
}

export interface LoadResult {
  /** Responses received, whatever their status. */
  requests: number;
  /** Responses per second over the run. */
  rps: number;
  /** Latency percentiles over the responses, in milliseconds. */
  p50: number;
  p99: number;
  /** Responses with a status outside 200–399, plus requests that failed without a response. */
  errors: number;
}

const DEFAULT_CONNECTIONS = 50;
const DEFAULT_DURATION_MS = 5000;

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const connections = options.connections ?? DEFAULT_CONNECTIONS;
  const durationMs = options.durationMs ?? DEFAULT_DURATION_MS;
  const url = new URL(options.url);
  const body = encodeBody(options.body);
  const headers: Record<string, string | number> = { ...options.headers };
  if (body) {
    headers["content-length"] = body.length;
    if (!Object.keys(headers).some((name) => name.toLowerCase() === "content-type")) headers["content-type"] = "application/json";
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const request: http.RequestOptions = {
    agent,
    hostname: url.hostname,
    port: url.port,
    path: url.pathname + url.search,
    method: options.method ?? (body ? "POST" : "GET"),
    headers,
  };

  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationMs;

  const sendOne = (): Promise<void> =>
    new Promise((resolve) => {
      const sent = performance.now();
      const outgoing = http.request(request, (response) => {
        response.on("end", () => {
          latencies.push(performance.now() - sent);
          const status = response.statusCode ?? 0;
          if (status < 200 || status >= 400) errors++;
          resolve();
        });
        response.on("error", () => {
          errors++;
          resolve();
        });
        response.resume();
      });
      outgoing.on("error", () => {
        errors++;
        resolve();
      });
      outgoing.end(body);
    });

  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) await sendOne();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();

  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    errors,
  };
}

function encodeBody(body: LoadOptions["body"]): Buffer | undefined {
  if (body === undefined) return undefined;
  if (Buffer.isBuffer(body)) return body;
  return Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
}

/** Nearest-rank percentile of sorted values; 0 when there are none. */
function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
}
