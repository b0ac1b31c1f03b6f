/**
 * @module kinds/queue-driver-memory — `queue.driver.memory`: the in-process queue driver as a
 * supervised entry. Its component is the driver itself (a `QueueDriver`), which `queue.queue` uses.
 */
import { parseDuration } from "../duration.ts";
import { createMemoryQueueDriver } from "../drivers/queue/memory.ts";
import { defineKind } from "../contracts/kind-definition.ts";

export default defineKind({
  kind: "queue.driver.memory",
  summary: "In-process queue driver: fast and bounded; queued messages are lost on exit",
  references: [],
  service: true,
  create: (entry, context) =>
    createMemoryQueueDriver({
      id: entry.id,
      maxLength: entry.data.max_length as number,
      publishTimeoutMs: parseDuration(entry.data.publish_timeout as string | number),
      logger: context.logger.forEntry(entry.id),
    }),
});
