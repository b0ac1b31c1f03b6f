/**
 * @module bin/commands/queue — `taskrt queue …`: look at and operate a registry's queues from a
 * shell, without starting its services (see queue-access): counts, pause and resume, dead letters
 * listed, retried or discarded, waiting messages purged.
 */
import { TaskrtError } from "../../runtime/errors.ts";
import { createKindTable } from "../../runtime/kinds/index.ts";
import { createLogger } from "../../runtime/logger.ts";
import type { BoundDeadLetters, DeadMessage } from "../../runtime/drivers/queue/driver.ts";
import { UsageError, flagValue, flagValues, type ParsedArgs } from "../args.ts";
import { formatTable, type CliIO } from "../output.ts";
import { KINDS_FLAG, OVERRIDE_FLAG, checkedRegistry, projectKinds, type Command } from "./command.ts";
import { openQueues, type OpenedQueue, type OpenedQueues } from "./queue-access.ts";

const ACTIONS = ["ls", "pause", "resume", "dead", "retry", "discard", "purge"] as const;
type Action = (typeof ACTIONS)[number];
const DEAD_PAGE = 100;

const USAGE = `queue ls PATH | pause|resume|dead|purge PATH QUEUE | retry|discard PATH QUEUE (ID|--all)`;

export const queueCommand: Command = {
  name: "queue",
  usage: "queue ACTION PATH [QUEUE] [ID|--all]",
  description: "operate a registry's queues without starting its services: ls, pause, resume, dead, retry, discard, purge",
  flags: [
    OVERRIDE_FLAG,
    KINDS_FLAG,
    { name: "format", choices: ["text", "json"], description: "for people (default) or as JSON" },
    { name: "all", description: "retry or discard every dead letter of the queue" },
    { name: "limit", value: "n", description: `dead letters listed (default ${DEAD_PAGE})` },
  ],
  async run(args, io) {
    const { action, target, queueId, messageId } = parseQueueArgs(args);
    const extra = await projectKinds(args, target);
    const registry = await checkedRegistry(target, flagValues(args, "override"), extra, "not opening its queues", io);
    if (!registry) return 1;
    // Driver log lines (a migration of the queue table, say) are not the command's output.
    const logger = createLogger({ level: "error", sink: { write: (line) => io.stderr(line.endsWith("\n") ? line : `${line}\n`) } });
    const opened = await openQueues(registry, createKindTable(extra), logger);
    try {
      return await perform(action, opened, { queueId, messageId, args, io });
    } finally {
      await opened.close();
    }
  },
};

function parseQueueArgs(args: ParsedArgs): { action: Action; target: string; queueId?: string; messageId?: string } {
  const [action, target, queueId, messageId, ...rest] = args.positional;
  if (!ACTIONS.includes(action as Action)) throw new UsageError(action ? `queue has no action '${action}' (one of ${ACTIONS.join(", ")})` : `queue takes an action: ${USAGE}`);
  const all = args.flags.has("all");
  const wanted = action === "ls" ? 1 : action === "retry" || action === "discard" ? (all ? 2 : 3) : 2;
  const given = [target, queueId, messageId].filter((value) => value !== undefined).length;
  if (given !== wanted || rest.length > 0) throw new UsageError(`queue ${action} takes ${describeArguments(action as Action, all)}`);
  if (all && action !== "retry" && action !== "discard") throw new UsageError(`--all goes with retry and discard, not ${action}`);
  return { action: action as Action, target, queueId, messageId };
}

function describeArguments(action: Action, all: boolean): string {
  if (action === "ls") return "a PATH";
  if (action === "retry" || action === "discard") return all ? "a PATH and a QUEUE with --all" : "a PATH, a QUEUE and a message ID (or --all)";
  return "a PATH and a QUEUE";
}

interface Request {
  queueId?: string;
  messageId?: string;
  args: ParsedArgs;
  io: CliIO;
}

async function perform(action: Action, opened: OpenedQueues, request: Request): Promise<number> {
  const { io, args } = request;
  const json = flagValue(args, "format") === "json";
  const print = (value: unknown, text: string) => io.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : text);
  if (action === "ls") {
    const rows = await Promise.all(opened.queues.map(listRow));
    print({ queues: rows }, lsTable(rows));
    return rows.some((row) => row.error !== undefined) ? 1 : 0;
  }
  const queue = opened.find(request.queueId!);
  refuseUnsupported(queue, action);
  const handle = await queue.open();
  switch (action) {
    case "pause":
    case "resume": {
      if (action === "pause") await handle.pause();
      else await handle.resume();
      print({ queue: queue.id, paused: action === "pause" }, `${queue.id} ${action === "pause" ? "paused: consumers in every process take no more of its messages (within their poll interval); publishes are still accepted" : "resumed"}\n`);
      return 0;
    }
    case "purge": {
      const purged = await handle.purge();
      print({ queue: queue.id, purged }, `${queue.id}: ${plural(purged, "waiting or delayed message")} purged\n`);
      return 0;
    }
    case "dead": {
      const limit = limitOf(args);
      const page = await handle.deadLetters()!.list({ limit, offset: 0 });
      print({ queue: queue.id, ...page }, deadTable(queue.id, page.messages, page.total));
      return 0;
    }
    case "retry":
    case "discard": {
      const store = handle.deadLetters()!;
      const ids = request.messageId === undefined ? await allDeadIds(store) : [request.messageId];
      const done: string[] = [];
      const missing: string[] = [];
      for (const id of ids) ((action === "retry" ? await store.retry(id) : await store.discard(id)) ? done : missing).push(id);
      const verb = action === "retry" ? "put back for another round of attempts" : "discarded";
      print({ queue: queue.id, action, done, missing }, `${queue.id}: ${plural(done.length, "dead letter")} ${verb}${missing.length ? `; not dead (retried or discarded already?): ${missing.join(", ")}` : ""}\n`);
      return request.messageId !== undefined && missing.length > 0 ? 1 : 0;
    }
    default: {
      const unknown: never = action;
      throw new Error(`internal: unknown queue action ${String(unknown)}`);
    }
  }
}

interface ListRow {
  id: string;
  driver: string;
  driverKind: string;
  ready?: number;
  inFlight?: number;
  delayed?: number;
  dead?: number;
  paused?: boolean;
  error?: string;
}

async function listRow(queue: OpenedQueue): Promise<ListRow> {
  const base = { id: queue.id, driver: queue.driverId, driverKind: queue.driverKind };
  if (!queue.handle) return { ...base, error: queue.refusal };
  try {
    const handle = await queue.open();
    const stats = await handle.stats();
    const paused = handle.refusal("pause") === undefined ? await handle.isPaused() : undefined;
    return { ...base, ...stats, ...(paused === undefined ? {} : { paused }) };
  } catch (error) {
    return { ...base, error: error instanceof Error ? error.message : String(error) };
  }
}

function lsTable(rows: ListRow[]): string {
  if (rows.length === 0) return "no queues (the registry declares no queue.queue entry)\n";
  const cell = (value: number | undefined) => (value === undefined ? "–" : String(value));
  const table = formatTable([
    ["QUEUE", "DRIVER", "READY", "IN FLIGHT", "DELAYED", "DEAD", "STATE"],
    ...rows.map((row) => [row.id, `${row.driver} (${row.driverKind.replace("queue.driver.", "")})`, cell(row.ready), cell(row.inFlight), cell(row.delayed), cell(row.dead), row.error ? "unavailable" : row.paused ? "paused" : row.paused === false ? "running" : "–"]),
  ]);
  const notes = rows.filter((row) => row.error).map((row) => `${row.id}: ${row.error}\n`);
  return table + notes.join("");
}

function deadTable(queueId: string, messages: DeadMessage[], total: number): string {
  if (total === 0) return `${queueId} has no dead letters\n`;
  const table = formatTable([
    ["ID", "DIED AT", "ATTEMPTS", "ERROR", "BODY"],
    ...messages.map((message) => [message.id, message.diedAt.toISOString(), String(message.attempts), shorten(message.error, 60), shorten(JSON.stringify(message.body), 60)]),
  ]);
  return table + (total > messages.length ? `${messages.length} of ${total} shown, newest first (--limit for more)\n` : "");
}

/** What each action needs of the driver; refused before anything is opened or connected. */
const NEEDS: Record<Exclude<Action, "ls">, "pause" | "purge" | "dead_letters"> = {
  pause: "pause",
  resume: "pause",
  purge: "purge",
  dead: "dead_letters",
  retry: "dead_letters",
  discard: "dead_letters",
};

const DOING: Record<Exclude<Action, "ls">, string> = {
  pause: "pause",
  resume: "resume",
  purge: "purge",
  dead: "list the dead letters of",
  retry: "retry the dead letters of",
  discard: "discard the dead letters of",
};

function refuseUnsupported(queue: OpenedQueue, action: Exclude<Action, "ls">): void {
  const reason = queue.handle ? queue.handle.refusal(NEEDS[action]) : queue.refusal;
  if (reason !== undefined) throw new TaskrtError("E_QUEUE_UNSUPPORTED", `cannot ${DOING[action]} ${queue.id} (on ${queue.driverId}, ${queue.driverKind}): ${reason}`);
}

async function allDeadIds(store: BoundDeadLetters): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; ; offset += DEAD_PAGE) {
    const page = await store.list({ limit: DEAD_PAGE, offset });
    ids.push(...page.messages.map((message) => message.id));
    if (page.messages.length < DEAD_PAGE) return ids;
  }
}

function limitOf(args: ParsedArgs): number {
  const raw = flagValue(args, "limit");
  if (raw === undefined) return DEAD_PAGE;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a whole number of at least 1, got '${raw}'`);
  return limit;
}

function shorten(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ");
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
