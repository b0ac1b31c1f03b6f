import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import kind, { AmqpDriverComponent, createAmqpQueueDriver } from "./queue-driver-amqp.ts";
import type { Component } from "../contracts/component.ts";
import type { BuildContext } from "../contracts/build-context.ts";
import type { Entry } from "../registry/entry.ts";
import { projectSchemas } from "../registry/schemas.ts";
import { captureLogger } from "../../test/support/logs.ts";
import { RABBITMQ_HOST, RABBITMQ_PORT } from "../drivers/queue/amqp-test-support.ts";
import { serviceSkip } from "../../test/support/services.ts";

const location = { file: "/test/_index.yaml", line: 3, column: 5 };
const skipBroker = await serviceSkip("rabbitmq", RABBITMQ_HOST, RABBITMQ_PORT);

/** An entry as the validator leaves it: the schema's defaults filled in. */
function validatedEntry(data: Record<string, unknown>): { entry: Entry; errors: string[] } {
  const candidate: Record<string, unknown> = { ...data, name: "amqp", kind: "queue.driver.amqp", meta: {} };
  const validate = projectSchemas().validator("queue.driver.amqp")!;
  const valid = validate(candidate);
  const { name: _name, kind: _kind, meta: _meta, ...filled } = candidate;
  const entry: Entry = {
    id: "app:amqp",
    namespace: "app",
    name: "amqp",
    kind: "queue.driver.amqp",
    meta: {},
    data: filled,
    file: location.file,
    location,
    locate: () => location,
  };
  return { entry, errors: valid ? [] : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`) };
}

function entryOf(data: Record<string, unknown>): Entry {
  const { entry, errors } = validatedEntry(data);
  assert.deepEqual(errors, []);
  return entry;
}

function buildContext(): BuildContext {
  return {
    registry: { root: "/test", entries: [], byId: new Map() },
    logger: captureLogger().logger,
    component: <T = Component>(id: string): T => {
      throw new Error(`no component ${id}`);
    },
    services: {
      database: () => {
        throw new Error("unused");
      },
      queue: () => {
        throw new Error("unused");
      },
    },
  };
}

function create(data: Record<string, unknown>, env: Record<string, string | undefined> = {}): AmqpDriverComponent {
  return createAmqpQueueDriver(entryOf(data), buildContext(), env);
}

describe("queue.driver.amqp", () => {
  test("the schema fills the url, PLAIN login, heartbeat, timeouts, reconnect delays, no prefetch cap, 10 priority levels, TLS off and lifecycle", () => {
    const entry = entryOf({});
    assert.equal(entry.data.url, "amqp://guest:guest@localhost:5672/");
    assert.equal(entry.data.auth_mechanism, "PLAIN");
    assert.equal(entry.data.heartbeat, "10s");
    assert.equal(entry.data.connection_timeout, "5s");
    assert.equal(entry.data.reconnect_delay, "1s");
    assert.equal(entry.data.reconnect_max_delay, "30s");
    assert.equal(entry.data.prefetch_count, 0);
    assert.equal(entry.data.max_priority, 10);
    assert.deepEqual(entry.data.tls, { enabled: false, insecure_skip_verify: false });
    assert.equal((entry.data.lifecycle as Record<string, unknown>).stop_timeout, "10s");
  });

  test("the schema refuses an unknown login mechanism, a negative prefetch_count, a bad variable name and a malformed duration", () => {
    const { errors } = validatedEntry({ auth_mechanism: "KERBEROS", prefetch_count: -1, url_env: "1BAD", heartbeat: "soon" });
    assert.ok(errors.includes("/auth_mechanism must be equal to one of the allowed values"), errors.join("; "));
    assert.ok(errors.includes("/prefetch_count must be >= 0"), errors.join("; "));
    assert.ok(errors.includes('/url_env must match pattern "^[A-Za-z_][A-Za-z0-9_]*$"'), errors.join("; "));
    assert.ok(errors.some((error) => error.startsWith("/heartbeat ")), errors.join("; "));
  });

  test("the kind is a service referencing nothing, whose factory builds the driver", () => {
    assert.equal(kind.kind, "queue.driver.amqp");
    assert.equal(kind.service, true);
    assert.deepEqual(kind.references, []);
    assert.ok(kind.create(entryOf({}), buildContext()) instanceof AmqpDriverComponent);
  });

  test("create opens nothing, and describe shows protocol, address and vhost without the credentials", () => {
    const driver = create({ url: "amqp://worker:s3cret@broker.invalid:5673/tasks" });
    assert.equal(driver.describe(), "amqp broker.invalid:5673/tasks (durable)");
    assert.equal(driver.settings.endpoint.maskedUrl, "amqp://worker:***@broker.invalid:5673/tasks");
    assert.equal(driver.durable, true);
  });

  test("the fields reach the driver: durations in milliseconds, heartbeat in whole seconds, the prefetch cap, priority levels and frame limits", () => {
    const driver = create({
      heartbeat: "30s",
      connection_timeout: "2s",
      reconnect_delay: "250ms",
      reconnect_max_delay: "1m",
      prefetch_count: 50,
      max_priority: 3,
      frame_size: 8192,
      channel_max: 100,
      auth_mechanism: "AMQPLAIN",
      connection_name: "worker-1",
    });
    const settings = driver.settings;
    assert.equal(settings.id, "app:amqp");
    assert.equal(settings.heartbeatSeconds, 30);
    assert.equal(settings.connectTimeoutMs, 2000);
    assert.equal(settings.reconnectDelayMs, 250);
    assert.equal(settings.reconnectMaxDelayMs, 60_000);
    assert.equal(settings.prefetchCap, 50);
    assert.equal(settings.maxPriority, 3);
    assert.equal(settings.frameMax, 8192);
    assert.equal(settings.channelMax, 100);
    assert.equal(settings.authMechanism, "AMQPLAIN");
    assert.equal(settings.connectionName, "worker-1");
    assert.equal(settings.tls, undefined);
  });

  test("a sub-second heartbeat asks for one second, and 0 turns heartbeats off", () => {
    assert.equal(create({ heartbeat: "300ms" }).settings.heartbeatSeconds, 1);
    assert.equal(create({ heartbeat: 0 }).settings.heartbeatSeconds, 0);
  });

  test("the connection is named after the entry unless connection_name says otherwise", () => {
    assert.equal(create({}).settings.connectionName, "taskrt app:amqp");
  });

  test("url_env reads the url from the environment, and wins over url", () => {
    const driver = create({ url: "amqp://ignored:5672/", url_env: "TASKRT_AMQP_URL" }, { TASKRT_AMQP_URL: "amqp://svc:pw@10.1.2.3:5680/jobs" });
    assert.equal(driver.describe(), "amqp 10.1.2.3:5680/jobs (durable)");
    assert.equal(driver.settings.endpoint.username, "svc");
    assert.equal(driver.settings.endpoint.password, "pw");
  });

  test("url_env naming an unset variable fails the build with the variable named", () => {
    assert.throws(() => create({ url_env: "TASKRT_AMQP_URL" }), {
      code: "E_QUEUE_CONFIG",
      message: "queue driver app:amqp: url_env names TASKRT_AMQP_URL, which is not set",
      hint: "export TASKRT_AMQP_URL=amqp://user:password@host:5672/, or remove url_env to use url",
    });
  });

  test("${env:NAME} placeholders in url are filled from the environment (percent-encoded), with a default after |", () => {
    const driver = create({ url: "amqp://${env:RABBIT_USER|guest}:${env:RABBIT_PASSWORD}@${env:RABBIT_HOST|127.0.0.1}:5672/" }, { RABBIT_PASSWORD: "p@ss/word:1" });
    assert.equal(driver.settings.endpoint.username, "guest");
    assert.equal(driver.settings.endpoint.password, "p@ss/word:1");
    assert.equal(driver.settings.endpoint.hostname, "127.0.0.1");
    assert.equal(driver.describe(), "amqp 127.0.0.1:5672/ (durable)");
  });

  test("a url that is a single placeholder takes the variable as a whole url, and $${ stays a literal ${", () => {
    const driver = create({ url: "${env:RABBIT_URL}" }, { RABBIT_URL: "amqp://svc:pw@10.0.0.9:5672/" });
    assert.equal(driver.describe(), "amqp 10.0.0.9:5672/ (durable)");
    const literal = create({ url: "amqp://guest:$${env:X}@127.0.0.1:5672/" });
    assert.equal(literal.settings.endpoint.password, "${env:X}");
  });

  test("a placeholder naming an unset variable without a default fails the build, and never shows the url", () => {
    assert.throws(() => create({ url: "amqp://guest:${env:RABBIT_PASSWORD}@127.0.0.1:5672/" }), {
      code: "E_QUEUE_CONFIG",
      message: "queue driver app:amqp: url refers to environment variable RABBIT_PASSWORD, which is not set",
      hint: "set RABBIT_PASSWORD, or give a default: ${env:RABBIT_PASSWORD|amqp://localhost:5672/}",
    });
  });

  test("a url that is not AMQP is refused with the expected form, never echoing the url", () => {
    assert.throws(() => create({ url: "http://guest:hunter2@127.0.0.1:5672/" }), {
      code: "E_QUEUE_CONFIG",
      message: "queue driver app:amqp: url must start with amqp:// or amqps://, found http://",
      hint: "write url as amqp://user:password@host:5672/vhost (amqps:// for TLS), or name an environment variable holding it in url_env",
    });
    assert.throws(() => create({ url: "not a url with hunter2" }), { code: "E_QUEUE_CONFIG", message: "queue driver app:amqp: url is not a valid URL" });
  });

  test("tls.enabled switches to amqps on port 5671 and passes the TLS settings on", () => {
    const driver = create({ url: "amqp://guest:guest@broker.invalid/", tls: { enabled: true, server_name: "rabbit.internal", ca: "/etc/ssl/ca.pem", insecure_skip_verify: true } });
    assert.equal(driver.describe(), "amqps broker.invalid:5671/ (durable)");
    assert.deepEqual(driver.settings.tls, { serverName: "rabbit.internal", cert: undefined, key: undefined, ca: "/etc/ssl/ca.pem", insecureSkipVerify: true });
  });

  test("a TLS file that cannot be read fails the start, naming the field and the file", async () => {
    const driver = create({ url: "amqps://guest:guest@127.0.0.1:5671/", tls: { ca: "/nonexistent/taskrt-ca.pem" } });
    await assert.rejects(driver.start(), {
      code: "E_QUEUE_CONFIG",
      message: "queue driver app:amqp: tls.ca names /nonexistent/taskrt-ca.pem, which cannot be read: ENOENT: no such file or directory, open '/nonexistent/taskrt-ca.pem'",
      hint: "tls.ca takes PEM text or the path of a PEM file",
    });
  });

  describe("against the local RabbitMQ", { skip: skipBroker }, () => {
    const started: AmqpDriverComponent[] = [];
    after(async () => {
      for (const driver of started) await driver.stop();
    });

    test("start connects with the entry's settings and stop closes the connection", async () => {
      const driver = create({ url: "amqp://guest:guest@127.0.0.1:5672/" });
      started.push(driver);
      await driver.start();
      assert.equal(driver.describe(), "amqp 127.0.0.1:5672/ (durable)");
      assert.ok(driver.currentConnection());
      await driver.stop();
      assert.equal(driver.currentConnection(), undefined);
    });
  });
});
