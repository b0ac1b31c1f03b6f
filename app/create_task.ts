/** POST /tasks: checks the body, queues the task, answers 202 with its id. */
import { http, queue, time, uuid } from "taskrt";

export interface Task {
  id: string;
  action: string;
  data: Record<string, unknown>;
  created_at: number;
}

export async function handler(): Promise<void> {
  const request = http.request();
  const response = http.response();

  let body: unknown;
  try {
    body = await request.bodyJson();
  } catch {
    response.setStatus(http.STATUS.BAD_REQUEST).writeJson({ error: "invalid JSON" });
    return;
  }
  const action = body !== null && typeof body === "object" ? (body as { action?: unknown }).action : undefined;
  if (typeof action !== "string" || action === "") {
    response.setStatus(http.STATUS.BAD_REQUEST).writeJson({ error: "action required" });
    return;
  }

  const data = (body as { data?: unknown }).data;
  const task: Task = {
    id: uuid.v4(),
    action,
    data: data !== null && typeof data === "object" ? (data as Record<string, unknown>) : {},
    created_at: time.unix(),
  };
  await queue.publish("app:tasks_queue", task);
  response.setStatus(http.STATUS.ACCEPTED).writeJson({ id: task.id, status: "queued" });
}
