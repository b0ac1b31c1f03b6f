/**
 * @module bench/scenarios/bullmq-queues — the bench's own BullMQ chores, loaded only when Redis
 * answers: whether bullmq can be loaded, filling a queue with tasks, and removing a queue.
 */
import { BULLMQ_CONNECTION } from "../baselines/redis-connection.ts";
import type { Task } from "../baselines/task-request.ts";

/** Undefined when bullmq (and the ioredis it drives) load; else why they do not. */
export async function bullmqUnloadable(): Promise<string | undefined> {
  try {
    await import("bullmq");
    await import("ioredis");
    return undefined;
  } catch (error) {
    return `bullmq or ioredis is not installed (npm install): ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`;
  }
}

/** Adds the tasks as jobs, in bulk, acked jobs removed as taskrt's acked messages are. */
export async function addTasks(queueName: string, tasks: readonly Task[]): Promise<void> {
  const { Queue } = await import("bullmq");
  const queue = new Queue(queueName, { connection: BULLMQ_CONNECTION });
  try {
    const chunk = 1_000;
    for (let start = 0; start < tasks.length; start += chunk) {
      await queue.addBulk(tasks.slice(start, start + chunk).map((task) => ({ name: task.action, data: task, opts: { removeOnComplete: true } })));
    }
  } finally {
    await queue.close();
  }
}

/** Removes a bench queue and every job in it from Redis. */
export async function obliterate(queueName: string): Promise<void> {
  const { Queue } = await import("bullmq");
  const queue = new Queue(queueName, { connection: BULLMQ_CONNECTION });
  try {
    await queue.obliterate({ force: true });
  } finally {
    await queue.close();
  }
}
