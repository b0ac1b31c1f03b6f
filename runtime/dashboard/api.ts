/**
 * @module dashboard/api — the JSON the dashboard page reads and the actions it takes: an overview
 * (queues with their counts and whether they are paused, consumers, tasks by status), pages of
 * tasks, one task, a queue's dead letters, retrying or discarding one of them, and pausing or
 * resuming a queue.
 *
 * The overview is computed at most once per half refresh interval and shared by every open page,
 * so ten open dashboards cost the queues and the database what one does; and never more often than
 * every 20 times its last computation took, so counting a big table (about 120 ms for a million
 * SQLite rows, on the event loop) keeps the dashboard under ~5% of the process however it is set.
 * Task pages take their totals from it rather than counting again.
 */
import type { Context } from "hono";
import type { BoundDeadLetters, QueueHandle, QueueStats } from "../drivers/queue/driver.ts";
import { errorMessage } from "../errors.ts";
import { jsonError, jsonResponse, type ServerEnv } from "../http/exchange.ts";
import type { Logger } from "../logger.ts";
import type { TasksTable } from "./tasks-table.ts";

export interface DashboardQueue {
  id: string;
  driverId: string;
  driverKind: string;
  handle: QueueHandle;
}

export interface DashboardConsumer {
  id: string;
  queueId: string;
  concurrency: number;
}

export interface DashboardApiOptions {
  title: string;
  refreshMs: number;
  queues: readonly DashboardQueue[];
  consumers: readonly DashboardConsumer[];
  consumerState(id: string): string | undefined;
  tasks?: TasksTable;
  logger: Logger;
  now?: () => number;
}

interface QueueOverview extends Partial<QueueStats> {
  id: string;
  driver: string;
  driverKind: string;
  /** The driver can list, retry and discard its dead messages. */
  deadLetters: boolean;
  /** The driver lists the messages in flight with their handlers' progress. */
  listsInFlight: boolean;
  /** The driver lists waiting and delayed messages, and promotes or removes one. */
  browses: boolean;
  /** Whether consumers are held off; absent when the driver cannot pause (then `pauseRefusal` says why). */
  paused?: boolean;
  pauseRefusal?: string;
  error?: string;
}

interface Overview {
  title: string;
  refreshMs: number;
  generatedAt: string;
  queues: QueueOverview[];
  consumers: { id: string; queue: string; concurrency: number; state: string }[];
  tasks: { table: string; columns: TaskColumns; counts: Record<string, number>; total: number } | { table: string; columns: TaskColumns; error: string } | null;
}

interface TaskColumns {
  id: string;
  status: string;
  list: readonly string[];
}

const PAGE_LIMIT = { default: 25, max: 100 };
const NO_STORE = { "cache-control": "no-store" };

/** JSON that survives 64-bit integers (PostgreSQL's int8 may arrive as bigint). */
function json(status: number, value: unknown): Response {
  return new Response(
    JSON.stringify(value, (_key, item: unknown) => (typeof item === "bigint" ? item.toString() : item)),
    { status, headers: { "content-type": "application/json", ...NO_STORE } },
  );
}

function integerParam(context: Context<ServerEnv>, name: string, fallback: number, min: number, max: number): number | string {
  const raw = context.req.query(name);
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) return `${name} must be an integer from ${min} to ${max}`;
  return value;
}

/** `?limit=&offset=` of a paged list, or the 400 that says which one is wrong. */
function pageParams(context: Context<ServerEnv>): { limit: number; offset: number } | Response {
  const limit = integerParam(context, "limit", PAGE_LIMIT.default, 1, PAGE_LIMIT.max);
  if (typeof limit === "string") return jsonError(400, limit);
  const offset = integerParam(context, "offset", 0, 0, Number.MAX_SAFE_INTEGER);
  if (typeof offset === "string") return jsonError(400, offset);
  return { limit, offset };
}

export class DashboardApi {
  readonly #options: DashboardApiOptions;
  readonly #queues: Map<string, DashboardQueue>;
  readonly #now: () => number;
  #overview: { at: number; value: Promise<Overview> } | undefined;
  /** How long the last overview took to compute. */
  #overviewCostMs = 0;

  constructor(options: DashboardApiOptions) {
    this.#options = options;
    this.#queues = new Map(options.queues.map((queue) => [queue.id, queue]));
    this.#now = options.now ?? Date.now;
  }

  async overview(): Promise<Response> {
    return json(200, await this.#currentOverview());
  }

  #currentOverview(): Promise<Overview> {
    const now = this.#now();
    const cached = this.#overview;
    const interval = Math.max(this.#options.refreshMs / 2, 20 * this.#overviewCostMs);
    if (cached && now - cached.at < interval) return cached.value;
    const value = this.#computeOverview().then((overview) => {
      this.#overviewCostMs = this.#now() - now;
      return overview;
    });
    this.#overview = { at: now, value };
    return value;
  }

  async tasks(context: Context<ServerEnv>): Promise<Response> {
    const table = this.#options.tasks;
    if (!table) return jsonError(404, "this dashboard shows no tasks table: declare tasks.db on its entry");
    const page = pageParams(context);
    if (page instanceof Response) return page;
    const { limit, offset } = page;
    const status = context.req.query("status") || undefined;
    try {
      const [overview, tasks] = await Promise.all([this.#currentOverview(), table.page({ status, limit, offset })]);
      const counts = overview.tasks && "counts" in overview.tasks ? overview.tasks : undefined;
      const total = counts ? (status === undefined ? counts.total : (counts.counts[status] ?? 0)) : tasks.length;
      // Counts may be a moment older than the page: never claim fewer than the page shows.
      return json(200, { tasks, total: Math.max(total, offset + tasks.length), offset, limit });
    } catch (error) {
      return this.#unavailable(`cannot read the ${table.options.table} table`, error);
    }
  }

  async task(context: Context<ServerEnv>): Promise<Response> {
    const table = this.#options.tasks;
    if (!table) return jsonError(404, "this dashboard shows no tasks table: declare tasks.db on its entry");
    const id = context.req.param("id") ?? "";
    try {
      const row = await table.get(id);
      return row ? json(200, { task: row }) : jsonError(404, `no task has the id ${id}`);
    } catch (error) {
      return this.#unavailable(`cannot read the ${table.options.table} table`, error);
    }
  }

  async deadLetters(context: Context<ServerEnv>): Promise<Response> {
    const found = this.#deadLetterStore(context.req.query("queue") ?? "");
    if (found instanceof Response) return found;
    const page = pageParams(context);
    if (page instanceof Response) return page;
    try {
      const { messages, total } = await found.store.list(page);
      return json(200, { queue: found.queue.id, messages, total, ...page });
    } catch (error) {
      return this.#unavailable(`cannot list the dead letters of ${found.queue.id}`, error);
    }
  }

  /** POST `{queue, id}`: back to the queue with fresh attempts, or deleted. */
  async settleDeadLetter(context: Context<ServerEnv>, action: "retry" | "discard"): Promise<Response> {
    let body: unknown;
    try {
      body = await context.req.json();
    } catch {
      return jsonError(400, 'the body must be JSON: {"queue": "<queue id>", "id": "<message id>"}');
    }
    const { queue, id } = (body ?? {}) as { queue?: unknown; id?: unknown };
    if (typeof queue !== "string" || typeof id !== "string" || id === "") {
      return jsonError(400, 'the body must be JSON: {"queue": "<queue id>", "id": "<message id>"}');
    }
    const found = this.#deadLetterStore(queue);
    if (found instanceof Response) return found;
    let done: boolean;
    try {
      done = action === "retry" ? await found.store.retry(id) : await found.store.discard(id);
    } catch (error) {
      return this.#unavailable(`cannot ${action} dead letter ${id} of ${queue}`, error);
    }
    if (!done) return jsonError(404, `${queue} keeps no dead message ${id} (retried or discarded already?)`);
    this.#overview = undefined; // the next overview shows the change
    this.#options.logger.info(action === "retry" ? `dead letter ${id} of ${queue} put back for another round of attempts` : `dead letter ${id} of ${queue} discarded`, {
      queue,
      messageId: id,
      action,
    });
    return json(200, { queue, id, action });
  }

  /**
   * GET `?queue=&state=in_flight|waiting|delayed&order=newest|oldest&limit=&offset=`: a page of the
   * queue's messages in flight (with their progress, longest-running first), or waiting or delayed.
   */
  async messages(context: Context<ServerEnv>): Promise<Response> {
    const queueId = context.req.query("queue") ?? "";
    const queue = this.#queues.get(queueId);
    if (!queue) return jsonError(404, queueId ? `the dashboard shows no queue ${queueId}` : "say which queue: ?queue=<queue id>");
    const state = context.req.query("state") || "in_flight";
    if (state !== "in_flight" && state !== "waiting" && state !== "delayed") return jsonError(400, `state must be in_flight, waiting or delayed, got ${state}`);
    const order = context.req.query("order") || "oldest";
    if (order !== "newest" && order !== "oldest") return jsonError(400, `order must be newest or oldest, got ${order}`);
    const page = pageParams(context);
    if (page instanceof Response) return page;
    const inFlight = state === "in_flight";
    const refusal = queue.handle.refusal(inFlight ? "progress" : "browse");
    if (refusal) return jsonError(409, `${queue.id} is on ${queue.driverId} (${queue.driverKind}), which cannot list its ${inFlight ? "messages in flight" : `${state} messages`}: ${refusal}`);
    try {
      const { messages, total } = inFlight ? await queue.handle.listInFlight(page) : await queue.handle.browse({ state, order, ...page });
      return json(200, { queue: queue.id, state, ...(inFlight ? {} : { order }), messages, total, ...page });
    } catch (error) {
      return this.#unavailable(`cannot list the messages of ${queue.id}`, error);
    }
  }

  /** POST `{queue, id}`: a waiting or delayed message runs next, or is deleted unprocessed. */
  async changeMessage(context: Context<ServerEnv>, action: "promote" | "remove"): Promise<Response> {
    const usage = 'the body must be JSON: {"queue": "<queue id>", "id": "<message id>"}';
    let body: unknown;
    try {
      body = await context.req.json();
    } catch {
      return jsonError(400, usage);
    }
    const { queue: queueId, id } = (body ?? {}) as { queue?: unknown; id?: unknown };
    if (typeof queueId !== "string" || typeof id !== "string" || id === "") return jsonError(400, usage);
    const queue = this.#queues.get(queueId);
    if (!queue) return jsonError(404, `the dashboard shows no queue ${queueId}`);
    const refusal = queue.handle.refusal("browse");
    if (refusal) return jsonError(409, `${queue.id} is on ${queue.driverId} (${queue.driverKind}), which cannot ${action} a message: ${refusal}`);
    let done: boolean;
    try {
      done = action === "promote" ? await queue.handle.promote(id) : await queue.handle.remove(id);
    } catch (error) {
      return this.#unavailable(`cannot ${action} message ${id} of ${queueId}`, error);
    }
    if (!done) return jsonError(404, `${queueId} has no waiting or delayed message ${id} (taken by a consumer, or removed already?)`);
    this.#overview = undefined;
    return json(200, { queue: queueId, id, action });
  }

  /** POST `{queue}`: consumers stop taking its messages, or take them again. */
  async setPaused(context: Context<ServerEnv>, action: "pause" | "resume"): Promise<Response> {
    const found = await this.#queueFromBody(context);
    if (found instanceof Response) return found;
    const refusal = found.handle.refusal("pause");
    if (refusal) return jsonError(409, `${found.id} is on ${found.driverId} (${found.driverKind}), which cannot ${action}: ${refusal}`);
    try {
      if (action === "pause") await found.handle.pause();
      else await found.handle.resume();
    } catch (error) {
      return this.#unavailable(`cannot ${action} ${found.id}`, error);
    }
    this.#overview = undefined;
    return json(200, { queue: found.id, paused: action === "pause" });
  }

  async #queueFromBody(context: Context<ServerEnv>): Promise<DashboardQueue | Response> {
    const usage = 'the body must be JSON: {"queue": "<queue id>"}';
    let body: unknown;
    try {
      body = await context.req.json();
    } catch {
      return jsonError(400, usage);
    }
    const queueId = (body as { queue?: unknown } | null)?.queue;
    if (typeof queueId !== "string" || queueId === "") return jsonError(400, usage);
    return this.#queues.get(queueId) ?? jsonError(404, `the dashboard shows no queue ${queueId}`);
  }

  #deadLetterStore(queueId: string): { queue: DashboardQueue; store: BoundDeadLetters } | Response {
    const queue = this.#queues.get(queueId);
    if (!queue) return jsonError(404, queueId ? `the dashboard shows no queue ${queueId}` : "say which queue: ?queue=<queue id>");
    const store = queue.handle.deadLetters();
    if (!store) {
      return jsonError(409, `${queue.id} is on ${queue.driverId} (${queue.driverKind}), which cannot list its dead messages; use the broker's own tools`);
    }
    return { queue, store };
  }

  #unavailable(what: string, error: unknown): Response {
    const message = `${what}: ${errorMessage(error)}`;
    this.#options.logger.warn(message, { error });
    return jsonResponse(503, { error: message }, NO_STORE);
  }

  async #computeOverview(): Promise<Overview> {
    const options = this.#options;
    const queues = await Promise.all(
      options.queues.map(async (queue): Promise<QueueOverview> => {
        const base = { id: queue.id, driver: queue.driverId, driverKind: queue.driverKind, deadLetters: false, listsInFlight: false, browses: false };
        try {
          const stats = await queue.handle.stats();
          const pauseRefusal = queue.handle.refusal("pause");
          const pause = pauseRefusal === undefined ? { paused: await queue.handle.isPaused() } : { pauseRefusal };
          const listsInFlight = queue.handle.refusal("progress") === undefined;
          const browses = queue.handle.refusal("browse") === undefined;
          return { ...base, ...stats, deadLetters: queue.handle.deadLetters() !== undefined, listsInFlight, browses, ...pause };
        } catch (error) {
          return { ...base, error: errorMessage(error) };
        }
      }),
    );
    const consumers = options.consumers.map((consumer) => ({
      id: consumer.id,
      queue: consumer.queueId,
      concurrency: consumer.concurrency,
      state: (options.consumerState(consumer.id) ?? "not built").toLowerCase(),
    }));
    return {
      title: options.title,
      refreshMs: options.refreshMs,
      generatedAt: new Date(this.#now()).toISOString(),
      queues,
      consumers,
      tasks: await this.#taskCounts(),
    };
  }

  async #taskCounts(): Promise<Overview["tasks"]> {
    const table = this.#options.tasks;
    if (!table) return null;
    const columns = { id: table.options.id, status: table.options.status, list: table.options.listColumns };
    try {
      const counts = await table.counts();
      const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
      return { table: table.options.table, columns, counts, total };
    } catch (error) {
      return { table: table.options.table, columns, error: `cannot read the ${table.options.table} table: ${errorMessage(error)}` };
    }
  }
}
