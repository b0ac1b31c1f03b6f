/**
 * `taskrt queue …` as an operator runs it, in a process of its own beside the running app
 * (test/fixtures/queue-features on a SQLite file): counts, pause and resume obeyed by the app's
 * consumers, dead letters listed, retried and discarded, a purge; and the refusals for RabbitMQ
 * and memory queues, which say why.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Delivery, QueueHandle } from "../runtime/drivers/queue/driver.ts";
import { AMQP_UNSUPPORTED } from "../runtime/drivers/queue/amqp-unsupported.ts";
import { MEMORY_QUEUE_REFUSAL } from "../bin/commands/queue-access.ts";
import { startApp, waitFor, type RunningApp } from "./helpers.ts";
import { sleep } from "./support/wait.ts";

const REGISTRY = "test/fixtures/queue-features";
const RABBIT = "test/fixtures/queue-rabbit";

async function taskrt(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["bin/taskrt.js", ...args], { env: { ...process.env, NO_COLOR: "1" } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const [code] = await once(child, "exit");
  return { code, stdout, stderr };
}

describe("taskrt queue, beside the running app", () => {
  let app: RunningApp;
  let queueFile: string;
  const queueArgs = () => ["-o", `app:queue_driver:file=${queueFile}`];
  const cli = (...args: string[]) => taskrt(["queue", ...args, ...queueArgs()]);
  const handle = (id: string) => app.runtime.component<QueueHandle>(id);

  before(async () => {
    app = await startApp(path.resolve(REGISTRY, "_index.yaml"), { database: "app:queue_driver" });
    queueFile = path.join(app.directory, "tasks.db");
  });

  after(async () => {
    await app?.stop();
  });

  /** Buries `count` messages of app:backlog (which no consumer of the app reads), returning their ids. */
  async function deadOnBacklog(count: number): Promise<string[]> {
    const backlog = handle("app:backlog");
    for (let index = 0; index < count; index++) await backlog.publish({ dead: index });
    const deliveries: Delivery[] = [];
    const subscription = await backlog.consume({ prefetch: count }, (delivery) => deliveries.push(delivery));
    await waitFor(async () => deliveries.length === count, `${count} deliveries`);
    await subscription.cancel();
    for (const delivery of deliveries) await delivery.bury(`poison ${String((delivery.message.body as { dead: number }).dead)}`);
    return deliveries.map((delivery) => delivery.message.id);
  }

  test("ls: counts per state and whether each queue is paused, as a table and as JSON", async () => {
    await handle("app:backlog").purge();
    await handle("app:backlog").publish({ n: 1 });
    await handle("app:backlog").publish({ n: 2 }, {}, { delayMs: 600_000 });
    const json = await cli("ls", REGISTRY, "--format", "json");
    assert.equal(json.code, 0, json.stderr);
    const backlog = JSON.parse(json.stdout).queues.find((queue: { id: string }) => queue.id === "app:backlog");
    assert.deepEqual(backlog, { id: "app:backlog", driver: "app:queue_driver", driverKind: "queue.driver.sqlite", ready: 1, inFlight: 0, delayed: 1, dead: 0, paused: false });
    const text = await cli("ls", REGISTRY);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^QUEUE +DRIVER +READY +IN FLIGHT +DELAYED +DEAD +STATE\n/);
    assert.match(text.stdout, /\napp:backlog +app:queue_driver \(sqlite\) +1 +0 +1 +0 +running\n/);
    assert.equal(await handle("app:backlog").purge(), 2);
  });

  test("pause from the shell holds the running app's consumers off; resume lets them take the message", async () => {
    const paused = await cli("pause", REGISTRY, "app:jobs");
    assert.equal(paused.code, 0, paused.stderr);
    assert.equal(paused.stdout, "app:jobs paused: consumers in every process take no more of its messages (within their poll interval); publishes are still accepted\n");
    assert.equal(await handle("app:jobs").isPaused(), true);
    const release = path.join(app.directory, "release-cli");
    writeFileSync(release, "");
    await handle("app:jobs").publish({ release, steps: 1 });
    // Several of the app's 50 ms polls: a consumer that ignored the pause would have taken it.
    await sleep(300);
    assert.deepEqual(await handle("app:jobs").stats(), { ready: 1, inFlight: 0, delayed: 0, dead: 0 });
    const ls = JSON.parse((await cli("ls", REGISTRY, "--format", "json")).stdout);
    assert.equal(ls.queues.find((queue: { id: string }) => queue.id === "app:jobs").paused, true);

    const resumed = await cli("resume", REGISTRY, "jobs", "--format", "json");
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(JSON.parse(resumed.stdout), { queue: "app:jobs", paused: false });
    await waitFor(async () => {
      const stats = await handle("app:jobs").stats();
      return stats.ready === 0 && stats.inFlight === 0;
    }, "the app to process the message once resumed");
  });

  test("dead lists a queue's dead letters newest first; retry and discard take an id or --all", async () => {
    const ids = await deadOnBacklog(3);
    const listed = await cli("dead", REGISTRY, "app:backlog", "--format", "json");
    assert.equal(listed.code, 0, listed.stderr);
    const page = JSON.parse(listed.stdout);
    assert.equal(page.total, 3);
    assert.deepEqual(new Set(page.messages.map((message: { id: string }) => message.id)), new Set(ids));
    assert.match(page.messages[0].error, /^poison \d$/);
    const text = await cli("dead", REGISTRY, "app:backlog", "--limit", "1");
    assert.match(text.stdout, /^ID +DIED AT +ATTEMPTS +ERROR +BODY\n\S+ +\d{4}-\d\d-\d\dT[\d:.]+Z +1 +poison \d +\{"dead":\d\}\n1 of 3 shown, newest first \(--limit for more\)\n$/);

    const discarded = await cli("discard", REGISTRY, "app:backlog", ids[0]);
    assert.equal(discarded.stdout, "app:backlog: 1 dead letter discarded\n");
    const again = await cli("discard", REGISTRY, "app:backlog", ids[0]);
    assert.equal(again.code, 1);
    assert.equal(again.stdout, `app:backlog: 0 dead letters discarded; not dead (retried or discarded already?): ${ids[0]}\n`);
    const retried = await cli("retry", REGISTRY, "app:backlog", "--all");
    assert.equal(retried.stdout, "app:backlog: 2 dead letters put back for another round of attempts\n");
    assert.deepEqual(await handle("app:backlog").stats(), { ready: 2, inFlight: 0, delayed: 0, dead: 0 });

    const purged = await cli("purge", REGISTRY, "app:backlog");
    assert.equal(purged.stdout, "app:backlog: 2 waiting or delayed messages purged\n");
    assert.deepEqual(await handle("app:backlog").stats(), { ready: 0, inFlight: 0, delayed: 0, dead: 0 });
  });

  test("usage mistakes and unknown queues are one clear line each", async () => {
    const noId = await cli("retry", REGISTRY, "app:backlog");
    assert.equal(noId.code, 2);
    assert.match(noId.stderr, /^taskrt: queue retry takes a PATH, a QUEUE and a message ID \(or --all\)\n/);
    const unknown = await cli("pause", REGISTRY, "app:nope");
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, "taskrt: the registry has no queue app:nope\n  hint: its queues: app:jobs, app:backlog\n");
  });
});

describe("taskrt queue on RabbitMQ and memory queues", () => {
  test("pause, purge and dead letters on RabbitMQ are refused with the reason, before any connection", async () => {
    for (const [action, needs, doing] of [["pause", "pause", "pause"], ["purge", "purge", "purge"], ["dead", "dead_letters", "list the dead letters of"]] as const) {
      const outcome = await taskrt(["queue", action, RABBIT, "app:jobs", "-o", "app:rabbit:url=amqp://guest:guest@127.0.0.1:1/"]);
      assert.equal(outcome.code, 1, action);
      assert.equal(outcome.stderr, `taskrt: cannot ${doing} app:jobs (on app:rabbit, queue.driver.amqp): ${AMQP_UNSUPPORTED[needs]}\n`);
    }
  });

  test("a memory queue lives in the running process: the shell says so instead of showing an empty queue", async () => {
    const outcome = await taskrt(["queue", "pause", RABBIT, "app:local"]);
    assert.equal(outcome.code, 1);
    assert.equal(outcome.stderr, `taskrt: cannot pause app:local (on app:memory, queue.driver.memory): ${MEMORY_QUEUE_REFUSAL}\n`);
  });
});
