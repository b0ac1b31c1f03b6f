/**
 * The dashboard's queue features in headless Chromium, on test/fixtures/queue-features (a SQLite
 * queue whose handler reports progress and holds each message until its release file exists):
 * progress bars for messages in flight, pausing and resuming a queue from its card, browsing the
 * waiting and delayed messages of a queue nobody consumes, promoting and removing one.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import type { Delivery, QueueHandle } from "../runtime/drivers/queue/driver.ts";
import { chromiumSkip, launchChromium } from "./support/browser.ts";
import { startApp, waitFor, type RunningApp } from "./helpers.ts";

const REGISTRY = path.resolve("test/fixtures/queue-features/_index.yaml");
const OVERRIDES = [`app:dashboard:token_env=TASKRT_BROWSER_TEST_UNSET_${process.pid}`];

const skip = chromiumSkip();

describe("dashboard queue features in Chromium", { skip }, () => {
  let app: RunningApp;
  let browser: Browser;
  let releases = 0;

  before(async () => {
    app = await startApp(REGISTRY, { database: "app:queue_driver", overrides: OVERRIDES });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
  });

  const queueOf = (id: string) => app.runtime.component<QueueHandle>(id);

  /** A job body whose handler holds it until `release()` is called. */
  function heldJob(steps: number): { body: { release: string; steps: number }; release(): void } {
    const file = path.join(app.directory, `release-${++releases}`);
    return { body: { release: file, steps }, release: () => writeFileSync(file, "") };
  }

  async function openDashboard(): Promise<Page> {
    const line = app.runtime.component<{ describe(): string }>("app:dashboard").describe();
    const address = /^dashboard at (\S+#token=[A-Za-z0-9_-]+)/.exec(line)?.[1];
    assert.ok(address, line);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(address);
    await page.locator('[data-queue="app:jobs"]').waitFor();
    assert.deepEqual(errors, []);
    return page;
  }

  test("a message in flight shows its handler's progress as a bar, and the bar moves on as the handler reports", async () => {
    const page = await openDashboard();
    const job = heldJob(4);
    try {
      const id = await queueOf("app:jobs").publish(job.body);
      await page.selectOption("#messages-queue", "app:jobs");
      const row = page.locator(`#messages-body tr[data-message-id="${id}"]`);
      const cell = row.locator('[data-progress="{\\"done\\":1,\\"total\\":4}"]');
      await cell.waitFor({ timeout: 15_000 });
      assert.equal(await cell.locator("progress").getAttribute("value"), "25");
      assert.equal(await page.locator('#messages-states [data-state="in_flight"][aria-pressed="true"]').count(), 1);
      job.release();
      await row.waitFor({ state: "detached", timeout: 15_000 });
    } finally {
      job.release();
      await page.close();
    }
  });

  test("Pause on a queue's card holds its consumers off (publishes still land); Resume lets them take the message", async () => {
    const page = await openDashboard();
    const job = heldJob(2);
    try {
      const card = page.locator('[data-queue="app:jobs"]');
      await card.locator('button[data-action="pause"]').click();
      await card.locator(".paused-badge").waitFor();
      assert.equal(await queueOf("app:jobs").isPaused(), true);
      const id = await queueOf("app:jobs").publish(job.body);
      await card.locator('[data-count="ready"] dd', { hasText: "1" }).waitFor();
      assert.deepEqual(await queueOf("app:jobs").stats(), { ready: 1, inFlight: 0, delayed: 0, dead: 0 });

      await card.locator('button[data-action="resume"]').click();
      await card.locator(".paused-badge").waitFor({ state: "detached" });
      await page.selectOption("#messages-queue", "app:jobs");
      await page.locator(`#messages-body tr[data-message-id="${id}"]`).waitFor({ timeout: 15_000 });
      job.release();
      await waitFor(async () => (await queueOf("app:jobs").stats()).inFlight === 0, "the released job to finish");
    } finally {
      job.release();
      await page.close();
    }
  });

  test("waiting and delayed messages are listed oldest or newest first; Run now promotes a delayed one, Remove deletes one", async () => {
    const backlog = queueOf("app:backlog");
    await backlog.purge();
    const waiting = [await backlog.publish({ n: 1 }), await backlog.publish({ n: 2 }), await backlog.publish({ n: 3 })];
    const delayed = await backlog.publish({ n: 4 }, {}, { delayMs: 3_600_000 });
    const page = await openDashboard();
    page.on("dialog", (dialog) => void dialog.accept());
    try {
      await page.selectOption("#messages-queue", "app:backlog");
      await page.locator('#messages-states [data-state="waiting"]').click();
      await page.locator('#messages-states [data-state="waiting"][aria-pressed="true"]').waitFor();
      const rowIds = () => page.locator("#messages-body tr[data-message-id]").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-message-id")));
      await waitFor(async () => JSON.stringify(await rowIds()) === JSON.stringify(waiting), "the waiting messages, oldest first");
      await page.locator("#messages-order").click();
      await waitFor(async () => JSON.stringify(await rowIds()) === JSON.stringify([...waiting].reverse()), "the waiting messages, newest first");

      await page.locator('#messages-states [data-state="delayed"]').click();
      const delayedRow = page.locator(`#messages-body tr[data-message-id="${delayed}"]`);
      await delayedRow.locator('button[data-action="promote"]').click();
      await page.locator("#toast", { hasText: `Promoted ${delayed}: it runs next` }).waitFor();
      assert.deepEqual(await backlog.stats(), { ready: 4, inFlight: 0, delayed: 0, dead: 0 });
      assert.equal((await backlog.browse({ state: "waiting", order: "oldest", limit: 10, offset: 0 })).total, 4);

      await page.locator('#messages-states [data-state="waiting"]').click();
      const doomed = page.locator(`#messages-body tr[data-message-id="${waiting[1]}"]`);
      await doomed.locator('button[data-action="remove"]').click();
      await doomed.waitFor({ state: "detached" });
      assert.deepEqual(await backlog.stats(), { ready: 3, inFlight: 0, delayed: 0, dead: 0 });
      // Promoted: the delayed message is now the first a consumer would take.
      const deliveries: Delivery[] = [];
      const subscription = await backlog.consume({ prefetch: 1 }, (delivery) => deliveries.push(delivery));
      await waitFor(async () => deliveries.length === 1, "one delivery");
      await subscription.cancel();
      assert.equal(deliveries[0].message.id, delayed);
      await deliveries[0].ack();
      await page.screenshot({ path: path.resolve("artifacts", "dashboard-messages.png"), fullPage: true });
    } finally {
      await page.close();
    }
  });
});
