import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { SqlDatabase } from "../drivers/sql/driver.ts";
import type { Component } from "../contracts/component.ts";
import type { RuntimeView } from "../contracts/build-context.ts";
import { captureLogger } from "../../test/support/logs.ts";
import type { Entry, Registry } from "../registry/entry.ts";
import { ReadinessCheck, type ReadinessSources } from "./readiness.ts";

function entry(id: string, kind: string): Entry {
  const [namespace, name] = id.split(":");
  const location = { file: "/test/_index.yaml", line: 1, column: 1 };
  return { id, namespace, name, kind, meta: {}, data: {}, file: location.file, location, locate: () => location };
}

interface Setup {
  states: Record<string, string>;
  kinds?: Record<string, string>;
  finished?: string[];
  oneShot?: string[];
  /** What `SELECT 1` does on each database. */
  databases?: Record<string, () => Promise<unknown>>;
  probeTimeoutMs?: number;
}

function sources(setup: Setup): { sources: ReadinessSources; lines: ReturnType<typeof captureLogger>["lines"] } {
  const entries = Object.keys(setup.states).map((id) => entry(id, setup.kinds?.[id] ?? "test.service"));
  const registry: Registry = { root: "/test", entries, byId: new Map(entries.map((item) => [item.id, item])) };
  const runtime: RuntimeView = {
    state: (id) => setup.states[id],
    finished: (id) => setup.finished?.includes(id) ?? false,
    services: () => Object.keys(setup.states),
    bootServices: () => Object.keys(setup.states),
  };
  const { logger, lines } = captureLogger();
  return {
    lines,
    sources: {
      registry,
      runtime,
      logger,
      probeTimeoutMs: setup.probeTimeoutMs ?? 1000,
      component: (id): Component => (setup.oneShot?.includes(id) ? { completed: () => Promise.resolve() } : {}),
      services: {
        database: (id) => ({ query: () => setup.databases![id]() }) as unknown as SqlDatabase,
        queue: () => {
          throw new Error("unused");
        },
      },
    },
  };
}

describe("readiness", () => {
  test("is ready when every required entry runs and every one-shot service has finished", async () => {
    const { sources: ready } = sources({
      states: { "app:db": "RUNNING", "app:driver": "RUNNING", "app:migrate": "RUNNING" },
      kinds: { "app:db": "db.sql.sqlite" },
      oneShot: ["app:migrate"],
      finished: ["app:migrate"],
      databases: { "app:db": async () => [{ 1: 1 }] },
    });
    assert.deepEqual(await new ReadinessCheck(["app:db", "app:driver", "app:migrate"], ready).check(), {
      ready: true,
      entries: { "app:db": "running", "app:driver": "running", "app:migrate": "completed" },
    });
  });

  test("reports each state that is not ready: a one-shot still working, created, starting, stopping, stopped, failed", async () => {
    const states = { "app:migrate": "RUNNING", "app:a": "CREATED", "app:b": "STARTING", "app:c": "STOPPING", "app:d": "STOPPED", "app:e": "FAILED" };
    const { sources: notReady } = sources({ states, oneShot: ["app:migrate"] });
    assert.deepEqual(await new ReadinessCheck(Object.keys(states), notReady).check(), {
      ready: false,
      entries: { "app:migrate": "in progress", "app:a": "not started", "app:b": "starting", "app:c": "stopping", "app:d": "stopped", "app:e": "failed" },
    });
  });

  test("only the required entries count", async () => {
    const { sources: partly } = sources({ states: { "app:web": "RUNNING", "app:batch": "FAILED" } });
    assert.deepEqual(await new ReadinessCheck(["app:web"], partly).check(), { ready: true, entries: { "app:web": "running" } });
  });

  test("a running database that fails SELECT 1 is unreachable, warned about once per outage, and announced when it answers again", async () => {
    let failing = true;
    const { sources: flaky, lines } = sources({
      states: { "app:db": "RUNNING" },
      kinds: { "app:db": "db.sql.postgres" },
      databases: {
        "app:db": async () => {
          if (failing) throw new Error("connection refused");
          return [];
        },
      },
    });
    const check = new ReadinessCheck(["app:db"], flaky);
    assert.deepEqual(await check.check(), { ready: false, entries: { "app:db": "unreachable" } });
    assert.deepEqual(await check.check(), { ready: false, entries: { "app:db": "unreachable" } });
    failing = false;
    assert.deepEqual(await check.check(), { ready: true, entries: { "app:db": "running" } });
    assert.deepEqual(
      lines.map((line) => [line.level, line.msg]),
      [
        ["warn", "readiness: app:db did not answer SELECT 1: connection refused"],
        ["info", "readiness: app:db answers again"],
      ],
    );
  });

  test("a database that does not answer within probe_timeout is unreachable", async () => {
    const { sources: hung, lines } = sources({
      states: { "app:db": "RUNNING" },
      kinds: { "app:db": "db.sql.sqlite" },
      databases: { "app:db": () => new Promise(() => {}) },
      probeTimeoutMs: 20,
    });
    assert.deepEqual(await new ReadinessCheck(["app:db"], hung).check(), { ready: false, entries: { "app:db": "unreachable" } });
    assert.equal(lines[0].msg, "readiness: app:db did not answer SELECT 1: no answer within 20ms (probe_timeout)");
  });
});
