/** @module bench/lib/post-many — sends exactly N POSTs over keep-alive connections, as fast as the server takes them. */
import http from "node:http";

export interface PostManyResult {
  accepted: number;
  /** The first few rejections (status and body), for the message. */
  rejections: string[];
  rejected: number;
  ms: number;
}

export async function postMany(options: { url: string; body: string; count: number; connections: number }): Promise<PostManyResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const result: PostManyResult = { accepted: 0, rejections: [], rejected: 0, ms: 0 };
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < options.count) {
      next++;
      const { status, text } = await post(agent, options.url, options.body);
      if (status >= 200 && status < 300) result.accepted++;
      else {
        result.rejected++;
        if (result.rejections.length < 3) result.rejections.push(`${status} ${text.slice(0, 200)}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.connections }, worker));
  } finally {
    agent.destroy();
  }
  result.ms = performance.now() - started;
  return result;
}

function post(agent: http.Agent, url: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end(body);
  });
}
