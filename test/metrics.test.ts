/**
 * Prometheus metrics and health probes, end to end on test/fixtures/metrics: readiness while a
 * migration runs and after, then the exact metric lines after requests, messages (processed,
 * retried, dead-lettered) and a process restart; and the same service without a metrics entry.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { checkRegistry } from "../runtime/runtime.ts";
import { createKindTable } from "../runtime/kinds/index.ts";
import taskrtMetrics from "../runtime/kinds/taskrt-metrics.ts";
import taskrtHealth from "../runtime/kinds/taskrt-health.ts";
import { Supervisor } from "../runtime/supervisor.ts";
import { capturingLogger, getJson, postJson, temporaryDirectory, waitFor } from "./helpers.ts";

const FIXTURE = "test/fixtures/metrics/_index.yaml";
// Passed explicitly so these tests do not depend on the kinds table having them yet.
const KINDS = [taskrtMetrics, taskrtHealth];

interface Fixture {
  supervisor: Supervisor;
  url: string;
  /** Settles once every boot service has started (the migration runs on until `openGate()`). */
  starting: Promise<void>;
  /** Lets the migration finish. */
  openGate(): void;
  stop(): Promise<void>;
}

/** Starts the fixture without waiting for the migration, which runs until `openGate()`. */
async function startFixture(options: { withoutEntry?: string } = {}): Promise<Fixture> {
  const temporary = temporaryDirectory("taskrt-metrics-");
  const gate = path.join(temporary.directory, "gate");
  process.env.METRICS_TEST_GATE = gate;
  const { registry, problems } = await checkRegistry({ path: FIXTURE, kinds: KINDS, overrides: [`ops:db:file=${path.join(temporary.directory, "ops.db")}`] });
  assert.deepEqual(problems.filter((problem) => problem.severity === "error"), []);
  if (options.withoutEntry) {
    registry.entries.splice(registry.entries.findIndex((entry) => entry.id === options.withoutEntry), 1);
    registry.byId.delete(options.withoutEntry);
  }
  const supervisor = new Supervisor(registry, createKindTable(KINDS), capturingLogger());
  const starting = supervisor.start();
  starting.catch(() => {});
  await waitFor(async () => supervisor.state("ops:gateway") === "RUNNING", "the gateway to listen");
  const { port } = supervisor.component<{ address(): { port: number } }>("ops:gateway").address();
  return {
    supervisor,
    url: `http://127.0.0.1:${port}`,
    starting,
    openGate: () => writeFileSync(gate, ""),
    async stop() {
      writeFileSync(gate, "");
      await starting.catch(() => {});
      await supervisor.stop();
      temporary.remove();
    },
  };
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return response.text();
}

function lines(text: string): string[] {
  return text.split("\n");
}

describe("metrics and health of a running service", () => {
  let fixture: Fixture;
  before(async () => {
    fixture = await startFixture();
  });
  after(async () => {
    await fixture?.stop();
  });

  test("liveness answers 200 while the process runs, even before every service is ready", async () => {
    assert.deepEqual(await getJson(`${fixture.url}/healthz`), { status: 200, body: { status: "ok" } });
  });

  test("readiness answers 503 while the migration runs, then 200 once it has finished", async () => {
    const { supervisor } = fixture;
    const others = ["ops:db", "ops:memory", "ops:gateway", "ops:worker", "ops:processes"];
    await waitFor(async () => others.every((id) => supervisor.state(id) === "RUNNING") && supervisor.view.finished("ops:flaky-service"), "the other services");
    assert.deepEqual(await getJson(`${fixture.url}/readyz`), {
      status: 503,
      body: {
        status: "not ready",
        entries: {
          "ops:db": "running",
          "ops:memory": "running",
          "ops:gateway": "running",
          "ops:worker": "running",
          "ops:processes": "running",
          "ops:migrate-service": "in progress",
          "ops:flaky-service": "completed",
        },
      },
    });
    fixture.openGate();
    await waitFor(async () => supervisor.view.finished("ops:migrate-service"), "the migration to finish");
    assert.deepEqual(await getJson(`${fixture.url}/readyz`), {
      status: 200,
      body: {
        status: "ready",
        entries: {
          "ops:db": "running",
          "ops:memory": "running",
          "ops:gateway": "running",
          "ops:worker": "running",
          "ops:processes": "running",
          "ops:migrate-service": "completed",
          "ops:flaky-service": "completed",
        },
      },
    });
  });

  test("a scrape counts requests by route pattern and status, messages by outcome, restarts, queue depths and entries", async () => {
    await fixture.starting;
    for (const body of [{ n: 1 }, { n: 2 }, { fail: true }]) assert.equal((await postJson(`${fixture.url}/jobs`, body)).status, 202);
    for (const id of ["abc", "def"]) assert.equal((await getJson(`${fixture.url}/jobs/${id}`)).status, 200);
    assert.equal((await fetch(`${fixture.url}/nowhere`)).status, 404);
    const deadLettered = 'taskrt_consumer_messages_total{consumer="ops:worker",outcome="dead_lettered"} 1';
    const text = await waitFor(async () => {
      const scraped = await scrape(fixture.url);
      return lines(scraped).includes(deadLettered) && scraped;
    }, "the failing job to be dead-lettered");
    const scraped = lines(text);
    for (const expected of [
      'taskrt_http_requests_total{route="/jobs",method="POST",status="202"} 3',
      'taskrt_http_requests_total{route="/jobs/{id}",method="GET",status="200"} 2',
      'taskrt_http_requests_total{route="/readyz",method="GET",status="503"} 1',
      'taskrt_http_requests_total{route="/readyz",method="GET",status="200"} 1',
      'taskrt_http_request_duration_seconds_count{route="/jobs",method="POST"} 3',
      'taskrt_http_request_duration_seconds_bucket{le="+Inf",route="/jobs/{id}",method="GET"} 2',
      'taskrt_consumer_messages_total{consumer="ops:worker",outcome="processed"} 2',
      'taskrt_consumer_messages_total{consumer="ops:worker",outcome="failed"} 2',
      'taskrt_consumer_messages_total{consumer="ops:worker",outcome="retried"} 1',
      deadLettered,
      'taskrt_consumer_handler_duration_seconds_count{consumer="ops:worker"} 4',
      'taskrt_queue_messages{queue="ops:jobs",state="ready"} 0',
      'taskrt_queue_messages{queue="ops:jobs",state="in_flight"} 0',
      'taskrt_queue_messages{queue="ops:jobs",state="delayed"} 0',
      'taskrt_queue_messages{queue="ops:jobs",state="dead"} 0',
      'taskrt_queue_messages{queue="ops:dead",state="ready"} 1',
      'taskrt_process_restarts_total{service="ops:flaky-service"} 1',
      'taskrt_process_restarts_total{service="ops:migrate-service"} 0',
      'taskrt_entry_up{id="ops:gateway",kind="http.service"} 1',
      'taskrt_entry_up{id="ops:migrate-service",kind="process.service"} 1',
      "# TYPE taskrt_http_request_duration_seconds histogram",
      "# TYPE taskrt_queue_messages gauge",
    ]) {
      assert.ok(scraped.includes(expected), `missing line: ${expected}`);
    }
    const startup = scraped.find((line) => line.startsWith("taskrt_startup_seconds "));
    assert.ok(startup && Number(startup.split(" ")[1]) > 0, `startup line: ${startup}`);
    assert.ok(scraped.some((line) => line.startsWith("process_cpu_user_seconds_total ")), "default process metrics are served");
    assert.ok(scraped.some((line) => line.startsWith("nodejs_eventloop_lag_seconds ")), "event-loop lag is served");
    assert.equal(text.includes("/jobs/abc"), false, "a raw URL never becomes a label");
    assert.equal(text.includes("/nowhere"), false, "unmatched requests have no route label");
  });
});

describe("the same service without a taskrt.metrics entry", () => {
  let fixture: Fixture;
  before(async () => {
    fixture = await startFixture({ withoutEntry: "ops:metrics" });
    fixture.openGate();
    await fixture.starting;
  });
  after(async () => {
    await fixture?.stop();
  });

  test("serves no /metrics, attaches no collector, and still works", async () => {
    assert.equal(fixture.supervisor.instruments.attached, false);
    assert.equal((await fetch(`${fixture.url}/metrics`)).status, 404);
    assert.equal((await postJson(`${fixture.url}/jobs`, { n: 1 })).status, 202);
    assert.equal((await getJson(`${fixture.url}/readyz`)).status, 200);
  });
});
