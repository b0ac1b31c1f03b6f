/**
 * The app's dashboard in a real browser (headless Chromium): opened at the address printed at start
 * (carrying the token generated for it), the page loads, a task POSTed through the API shows up and
 * moves to completed, a dead letter is retried and another discarded, the page fits a phone's width;
 * without the token, or with a configured one, the page asks for it. Screenshots are kept in
 * artifacts/ (dashboard.png, dashboard-phone.png) for a human to look at.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { chromiumSkip, launchChromium } from "./support/browser.ts";
import { getJson, postJson, startApp, waitFor, type RunningApp } from "./helpers.ts";

const REGISTRY = path.resolve("app/_index.yaml");
const ARTIFACTS = path.resolve("artifacts");
// One attempt, so a failing task becomes a dead letter at once; a quick refresh keeps the test short;
// a variable nobody sets, so the dashboard generates its token whatever the environment holds.
const OVERRIDES = ["app:tasks_queue:max_attempts=1", "app:dashboard:refresh=300ms", `app:dashboard:token_env=TASKRT_BROWSER_TEST_UNSET_${process.pid}`];

interface DeadLetter {
  id: string;
  body: { id: string };
  diedAt: string;
}

/** The page's address as `taskrt run` prints it at start: with the generated token in its fragment. */
function printedAddress(app: RunningApp): string {
  const line = app.runtime.component<{ describe(): string }>("app:dashboard").describe();
  const printed = /^dashboard at (\S+#token=[A-Za-z0-9_-]+): token generated at start/.exec(line);
  assert.ok(printed, line);
  return printed[1];
}

function tokenHeader(app: RunningApp): Record<string, string> {
  return { authorization: `Bearer ${new URL(printedAddress(app)).hash.slice("#token=".length)}` };
}

async function deadLettersOf(app: RunningApp, taskId: string): Promise<DeadLetter[]> {
  const { body } = await getJson(`${app.url}/dashboard/api/dead?queue=app:tasks_queue`, tokenHeader(app));
  return (body.messages as DeadLetter[]).filter((message) => message.body.id === taskId);
}

const skip = chromiumSkip();

describe("dashboard in Chromium", { skip }, () => {
  let app: RunningApp;
  let browser: Browser;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    app = await startApp(REGISTRY, { overrides: OVERRIDES });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
  });

  async function openDashboard(viewport = { width: 1280, height: 900 }): Promise<Page> {
    const page = await browser.newPage({ viewport });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(printedAddress(app));
    await page.locator('[data-queue="app:tasks_queue"]').waitFor();
    assert.deepEqual(errors, []);
    return page;
  }

  test("opened at the printed address, the token leaves the address bar and stays for the tab", async () => {
    const page = await openDashboard();
    try {
      assert.equal(page.url(), `${app.url}/dashboard/`);
      await page.reload();
      await page.locator('[data-queue="app:tasks_queue"]').waitFor();
      assert.equal(await page.locator("#login").isVisible(), false);
    } finally {
      await page.close();
    }
  });

  test("opened without the token, the page asks for it and says where it is", async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${app.url}/dashboard/`);
      await page.locator("#login-reason", { hasText: "is unset, so one was generated at start; open the dashboard's address that `taskrt run` printed, which carries it" }).waitFor();
      assert.equal(await page.locator('[data-queue="app:tasks_queue"]').count(), 0);
    } finally {
      await page.close();
    }
  });

  test("the page loads and a task POSTed through the API moves to completed, with its result in the detail", async () => {
    const page = await openDashboard();
    try {
      assert.equal(await page.title(), "taskrt task queue · dashboard");
      // The live indicator says "connecting…" until the page's first update arrives.
      await page.locator("#live", { hasText: /^live · / }).waitFor();
      const created = await postJson(`${app.url}/tasks`, { action: "uppercase", data: { text: "from the browser test" } });
      assert.equal(created.status, 202);
      const id = created.body.id as string;
      const status = page.locator(`tr[data-id="${id}"] td[data-column="status"]`);
      await status.filter({ hasText: "completed" }).waitFor({ timeout: 15_000 });

      await page.locator(`tr[data-id="${id}"]`).click();
      const result = page.locator('#task-dialog [data-field="result"]');
      await result.waitFor();
      assert.match((await result.textContent()) ?? "", /FROM THE BROWSER TEST/);
      assert.equal(await page.locator('#task-dialog [data-field="status"]').textContent(), "completed");
      await page.locator("#task-close").click();

      await page.locator('[data-status="completed"]').click();
      await page.locator('[data-status="completed"][aria-pressed="true"]').waitFor();
      await page.locator(`tr[data-id="${id}"]`).waitFor();
      const statuses = await page.locator('#tasks-body td[data-column="status"]').allTextContents();
      assert.ok(statuses.length > 0 && statuses.every((text) => text === "completed"), `only completed tasks listed, got ${statuses.join(", ")}`);
    } finally {
      await page.close();
    }
  });

  test("a dead letter is retried from the page (it runs again) and another is discarded", async () => {
    const page = await openDashboard();
    page.on("dialog", (dialog) => void dialog.accept());
    try {
      const failing = await postJson(`${app.url}/tasks`, { action: "fail" });
      const id = failing.body.id as string;
      const card = page.locator(".dead", { hasText: id });
      await card.waitFor({ timeout: 15_000 });
      assert.match((await card.locator(".why").textContent()) ?? "", /action 'fail' always fails \(attempt 1\)/);
      const [before] = await deadLettersOf(app, id);
      const failedTask = await waitFor(async () => {
        const { body } = await getJson(`${app.url}/tasks/${id}`);
        return body.status === "failed" ? body : undefined;
      }, "the dead-letter consumer to mark the task failed");

      await card.locator('button[data-action="retry"]').click();
      await page.locator("#toast", { hasText: `Retrying ${before.id}` }).waitFor();
      // 'fail' always fails: the retried message runs once more and dies again, later.
      const [again] = await waitFor(async () => {
        const letters = await deadLettersOf(app, id);
        return letters.length === 1 && letters[0].diedAt > before.diedAt ? letters : undefined;
      }, "the retried dead letter to run again and die again");
      assert.equal(again.id, before.id);
      const rerun = await waitFor(async () => {
        const { body } = await getJson(`${app.url}/tasks/${id}`);
        return body.status === "failed" && body.updated_at > failedTask.updated_at ? body : undefined;
      }, "the task to have run again");
      assert.equal(rerun.attempts, 1);
      assert.ok(app.logs.some((line) => line.includes(`dead letter ${before.id} of app:tasks_queue put back for another round of attempts`)));

      const other = await postJson(`${app.url}/tasks`, { action: "fail", data: { note: "to discard" } });
      const otherCard = page.locator(".dead", { hasText: other.body.id });
      await otherCard.waitFor({ timeout: 15_000 });
      await page.locator("#toast").waitFor({ state: "hidden" }); // the screenshot shows the page, not the last notice
      await page.screenshot({ path: path.join(ARTIFACTS, "dashboard.png"), fullPage: true });
      await otherCard.locator('button[data-action="discard"]').click();
      await otherCard.waitFor({ state: "detached" });
      assert.deepEqual(await deadLettersOf(app, other.body.id), []);
    } finally {
      await page.close();
    }
  });

  test("on a phone-width screen nothing runs off the side, and the tasks list stays readable", async () => {
    const page = await openDashboard({ width: 390, height: 844 });
    try {
      await page.locator("#tasks-body tr[data-id]").first().waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
      // Rows become labelled cards: the header row is hidden, each cell says its column.
      assert.equal(await page.locator("#tasks thead").isVisible(), false);
      // Found and measured in one turn of the page: a refresh may replace the rows between two steps.
      const label = await page.evaluate(() => {
        const cell = document.querySelector('#tasks-body td[data-column="status"]');
        return cell ? getComputedStyle(cell, "::before").content : "no status cell";
      });
      assert.equal(label, '"status"');
      await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-phone.png"), fullPage: true });
    } finally {
      await page.close();
    }
  });
});

describe("token-protected dashboard in Chromium", { skip }, () => {
  const variable = `TASKRT_BROWSER_TEST_TOKEN_${process.pid}`;
  let app: RunningApp;
  let browser: Browser;

  before(async () => {
    process.env[variable] = "correct horse";
    app = await startApp(REGISTRY, { overrides: [`app:dashboard:token_env=${variable}`] });
    browser = await launchChromium();
  });

  after(async () => {
    delete process.env[variable];
    await browser?.close();
    await app?.stop();
  });

  test("the page asks for the token, refuses a wrong one and opens with the right one", async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${app.url}/dashboard/`);
      await page.locator("#login").waitFor();
      await page.fill("#token", "wrong");
      await page.click('#login-form button[type="submit"]');
      await page.locator("#login-reason", { hasText: "wrong bearer token. Enter the token again." }).waitFor();
      await page.fill("#token", "correct horse");
      await page.click('#login-form button[type="submit"]');
      await page.locator('[data-queue="app:tasks_queue"]').waitFor();
      assert.equal(await page.locator("#login").isVisible(), false);
    } finally {
      await page.close();
    }
  });

  test("an address carrying the configured token in its fragment opens the page too", async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${app.url}/dashboard/#token=${encodeURIComponent("correct horse")}`);
      await page.locator('[data-queue="app:tasks_queue"]').waitFor();
      assert.equal(page.url(), `${app.url}/dashboard/`);
    } finally {
      await page.close();
    }
  });
});
