/**
 * create_task.lua, line for line in TypeScript: not used by _index.yaml as written; swap it in with
 * `-o app:create_task:kind=function.ts -o app:create_task:source=file:///absolute/path/create_task.ts`
 * (bench/lua-vs-typescript.ts does, to time the two languages on the same registry).
 */
import { http, queue, uuid } from "taskrt";

export async function handler(): Promise<void> {
  const req = http.request();
  const res = http.response();

  let body: { action?: unknown; data?: unknown };
  try {
    body = await req.bodyJson();
  } catch {
    res.setStatus(http.STATUS.BAD_REQUEST).writeJson({ error: "invalid JSON" });
    return;
  }

  // Lua's `not body.action`: only a missing action (nil) or false is refused; "" and 0 pass.
  if (body?.action === undefined || body.action === null || body.action === false) {
    res.setStatus(http.STATUS.BAD_REQUEST).writeJson({ error: "action required" });
    return;
  }

  const taskId = uuid.v4();
  const task = {
    id: taskId,
    action: body.action,
    data: body.data ?? {},
    created_at: Math.floor(Date.now() / 1000),
  };

  try {
    await queue.publish("app:tasks_queue", task);
  } catch {
    res.setStatus(http.STATUS.INTERNAL_SERVER_ERROR).writeJson({ error: "failed to queue task" });
    return;
  }

  res.setStatus(http.STATUS.ACCEPTED).writeJson({ id: taskId, status: "queued" });
}
