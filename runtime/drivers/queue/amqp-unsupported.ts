/**
 * @module drivers/queue/amqp-unsupported — what the RabbitMQ driver cannot offer of the queue
 * capabilities, and why: the reasons every caller (handler API, dashboard, CLI) refuses with.
 */
import type { QueueCapability } from "./driver.ts";

export const AMQP_UNSUPPORTED: Readonly<Partial<Record<QueueCapability | "dead_letters", string>>> = {
  pause:
    "RabbitMQ keeps no pause state a queue's consumers in other processes would obey (a queue cannot be paused on the broker); stop the consumers, or use a SQLite or PostgreSQL queue",
  unique:
    "RabbitMQ cannot look up a queued message by key (it hands messages out only in order), so a duplicate cannot be detected at publish; deduplicate in the handler, or use a SQLite or PostgreSQL queue",
  progress: "RabbitMQ cannot change a message once published, so a handler's progress has nowhere to be kept",
  browse:
    "RabbitMQ hands messages out only in order: waiting messages cannot be listed, promoted or removed one by one without consuming them; use the RabbitMQ management UI",
  purge: "purging is RabbitMQ's own operation: use `rabbitmqctl purge_queue` or the management UI",
  retention: "RabbitMQ keeps dead messages in its own `<queue>.dead` queue: bound it with a queue length limit or message TTL policy on the broker",
  rate:
    "RabbitMQ has no shared delivery budget across consumers (only a per-consumer prefetch), so a rate per queue cannot be honoured across processes; limit concurrency instead",
  dead_letters: "RabbitMQ keeps dead messages in its `<queue>.dead` queue, which hands them out only in order; use the RabbitMQ management UI",
};
