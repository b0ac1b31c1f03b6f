/** POST /greetings {"name": "Ada"}: queues the greeting and answers 202 with its id; app:greet stores it. */
import { http, queue } from "taskrt";

export async function handler(): Promise<void> {
  const response = http.response();
  let body: unknown;
  try {
    body = await http.request().bodyJson();
  } catch {
    response.setStatus(http.STATUS.BAD_REQUEST).writeJson({ error: "the body must be JSON" });
    return;
  }
  const name = typeof body === "object" && body !== null ? (body as { name?: unknown }).name : undefined;
  if (typeof name !== "string" || name.trim() === "") {
    response.setStatus(http.STATUS.BAD_REQUEST).writeJson({ error: 'name required, e.g. {"name": "Ada"}' });
    return;
  }
  const id = await queue.publish("app:greetings_queue", { name: name.trim() });
  response.setStatus(http.STATUS.ACCEPTED).writeJson({ id, status: "queued" });
}
