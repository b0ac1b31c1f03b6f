import { after, afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { CallableComponent } from "../handlers/handler.ts";
import { defineKind, type KindDefinition } from "../contracts/kind-definition.ts";
import { createLogger } from "../logger.ts";
import { startRuntime } from "../runtime.ts";
import { SERVICE_STATE } from "../contracts/build-context.ts";
import { watchRuntime, type WatchSession } from "./watch-session.ts";

const quiet = createLogger({ level: "error", sink: { write() {} } });

/** A registry of one TypeScript function whose result shows which version of the code runs. */
const REGISTRY = `version: "1.0"
namespace: demo
entries:
  - name: greet
    kind: function.ts
    source: file://greet.ts
    method: greet
`;

function handler(version: string): string {
  return `import { suffix } from "./suffix.ts";\nexport function greet(): string {\n  return "${version}" + suffix;\n}\n`;
}

interface Fixture {
  directory: string;
  lines: string[];
  session: WatchSession;
  write(name: string, text: string): string;
  greet(): Promise<unknown>;
}

const directories: string[] = [];
let fixture: Fixture | undefined;

after(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

afterEach(async () => {
  await fixture?.session.stop();
  fixture = undefined;
});

interface FixtureOptions {
  registry?: string;
  relativePath?: (file: string) => string;
  onLine?: (line: string) => void;
  commonJs?: boolean;
  directory?: string;
  kinds?: KindDefinition[];
  strict?: boolean;
}

async function startFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const directory = options.directory ?? mkdtempSync(path.join(tmpdir(), "taskrt-watch-"));
  directories.push(directory);
  const write = (name: string, text: string): string => {
    const file = path.join(directory, name);
    writeFileSync(file, text);
    return file;
  };
  if (!options.commonJs) write("package.json", `{ "type": "module" }\n`);
  write("_index.yaml", options.registry ?? REGISTRY);
  write("greet.ts", handler("v1"));
  write("suffix.ts", `export const suffix = "-a";\n`);
  const registryPath = path.join(directory, "_index.yaml");
  const runtime = await startRuntime({ path: registryPath, logger: quiet, kinds: options.kinds });
  const lines: string[] = [];
  const session = watchRuntime(runtime, {
    path: registryPath,
    logger: quiet,
    kinds: options.kinds,
    strict: options.strict,
    debounceMs: 50,
    relativePath: options.relativePath ?? ((file) => path.relative(directory, file)),
    report: (line) => {
      lines.push(line);
      options.onLine?.(line);
    },
  });
  fixture = {
    directory,
    lines,
    session,
    write,
    async greet() {
      const result = await session.runtime!.component<CallableComponent>("demo:greet").callable().call([]);
      if (result.error) throw result.error;
      return result.value;
    },
  };
  return fixture;
}

/** The lines after the start-up line, with durations blanked: they are the only thing that varies. */
function reloadLines(lines: readonly string[]): string[] {
  return lines.slice(1).map((line) => line.replace(/\d+ms/g, "Nms"));
}

function listen(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

describe("watch session", () => {
  test("says what it watches and how a reload behaves when it starts", async () => {
    const { lines } = await startFixture();
    assert.deepEqual(lines, [
      "watching 3 files in 1 directory: a saved change restarts the services (new connections are refused for the moment that takes); a broken one is refused and this version keeps serving",
    ]);
  });

  test("saving a module the handler imports from a subfolder reloads", { timeout: 30_000 }, async () => {
    const waiters: { count: number; resolve: () => void }[] = [];
    let reloads = 0;
    /** Resolves once the session has reported `count` successful reloads in all. */
    const reloaded = (count: number) => new Promise<void>((resolve) => (reloads >= count ? resolve() : waiters.push({ count, resolve })));
    const { write, greet, lines, directory } = await startFixture({
      onLine: (line) => {
        if (!line.startsWith("reloaded in")) return;
        reloads += 1;
        for (const waiter of waiters.filter((item) => item.count <= reloads)) waiter.resolve();
      },
    });
    mkdirSync(path.join(directory, "lib"));
    write("lib/tail.ts", `export const tail = "";\n`);
    write("suffix.ts", `import { tail } from "./lib/tail.ts";\nexport const suffix = "-a" + tail;\n`);
    await reloaded(1);
    assert.equal(await greet(), "v1-a");

    write("lib/tail.ts", `export const tail = "-deep";\n`);
    await reloaded(2);
    assert.equal(await greet(), "v1-a-deep");
    assert.ok(lines.includes("change detected: lib/tail.ts — reloading"), lines.join("\n"));
  });

  test("a reload runs the changed handler and a fresh copy of the modules it imports", async () => {
    const { session, write, greet, lines } = await startFixture();
    assert.equal(await greet(), "v1-a");
    const before = session.runtime!;
    const changed = [write("greet.ts", handler("v2")), write("suffix.ts", `export const suffix = "-b";\n`)];
    assert.equal(await session.reload(changed), "reloaded");
    assert.equal(await greet(), "v2-b");
    assert.notEqual(session.runtime, before);
    assert.equal(before.supervisor.state("demo:greet"), SERVICE_STATE.STOPPED);
    assert.deepEqual(reloadLines(lines), ["change detected: greet.ts, suffix.ts — reloading", "reloaded in Nms (1 entry; services were down for Nms)"]);
  });

  test("a Lua handler is read again by a reload", async () => {
    const registry = `${REGISTRY}  - name: hello
    kind: function.lua
    source: file://hello.lua
    method: hello
`;
    const directory = mkdtempSync(path.join(tmpdir(), "taskrt-watch-"));
    writeFileSync(path.join(directory, "hello.lua"), `return { hello = function() return "lua v1" end }\n`);
    const { session, write } = await startFixture({ registry, directory });
    const hello = async () => (await session.runtime!.component<CallableComponent>("demo:hello").callable().call([])).value;
    assert.equal(await hello(), "lua v1");
    assert.equal(await session.reload([write("hello.lua", `return { hello = function() return "lua v2" end }\n`)]), "reloaded");
    assert.equal(await hello(), "lua v2");
  });

  test("a handler in a CommonJS package is reloaded too", async () => {
    const { session, write, greet } = await startFixture({ commonJs: true });
    assert.equal(await greet(), "v1-a");
    const changed = [write("greet.ts", handler("v2")), write("suffix.ts", `export const suffix = "-b";\n`)];
    assert.equal(await session.reload(changed), "reloaded");
    assert.equal(await greet(), "v2-b");
  });

  test("a registry file that no longer parses is refused with its problems, and the running version keeps serving", async () => {
    const { session, write, greet, lines } = await startFixture();
    const before = session.runtime;
    const file = write("_index.yaml", REGISTRY.replace("    kind: function.ts", "      kind: function.ts"));
    assert.equal(await session.reload([file]), "refused");
    assert.equal(session.runtime, before);
    assert.equal(await greet(), "v1-a");
    assert.deepEqual(reloadLines(lines), [
      "change detected: _index.yaml — reloading",
      "_index.yaml:4:11: error E_YAML YAML syntax: Nested mappings are not allowed in compact mappings",
      "_index.yaml:4:11: error E_YAML YAML syntax: Implicit keys need to be on a single line",
      "reload refused: 2 errors — the running version keeps serving",
    ]);
  });

  test("with strict, a reload that adds an unknown field is refused", async () => {
    const { session, write, greet, lines } = await startFixture({ strict: true });
    const file = write("_index.yaml", `${REGISTRY}    modlues: [json]\n`);
    assert.equal(await session.reload([file]), "refused");
    assert.equal(await greet(), "v1-a");
    assert.deepEqual(reloadLines(lines), [
      "change detected: _index.yaml — reloading",
      '_index.yaml:8:5: error W_UNKNOWN_FIELD [demo:greet] unknown field "modlues": function.ts has no such field, and unknown fields are refused in strict mode (hint: did you mean "modules"?)',
      "reload refused: 1 error — the running version keeps serving",
    ]);
  });

  test("a handler that does not compile is refused, and fixing it reloads", async () => {
    const { session, write, greet, lines, directory } = await startFixture();
    const file = write("greet.ts", "export function greet( {\n");
    assert.equal(await session.reload([file]), "refused");
    assert.equal(await greet(), "v1-a");
    assert.deepEqual(reloadLines(lines), [
      "change detected: greet.ts — reloading",
      `greet.ts:2:1: error E_SOURCE_INVALID [demo:greet] cannot load ${file}: Expected identifier but found end of file`,
      "reload refused: 1 error — the running version keeps serving",
    ]);

    write("greet.ts", handler("v3"));
    assert.equal(await session.reload([file]), "reloaded");
    assert.equal(await greet(), "v3-a");
  });

  test("a version that fails to start is replaced by the previous one, with the code it had", async () => {
    const busy = await listen();
    try {
      const { port } = busy.address() as { port: number };
      const { session, write, greet, lines } = await startFixture();
      write("greet.ts", handler("v2"));
      const file = write(
        "_index.yaml",
        `${REGISTRY}  - name: web\n    kind: http.service\n    addr: "127.0.0.1:${port}"\n    lifecycle:\n      auto_start: true\n`,
      );
      assert.equal(await session.reload([file]), "failed");
      assert.equal(await greet(), "v1-a");
      assert.deepEqual(reloadLines(lines), [
        "change detected: _index.yaml — reloading",
        `reload failed: demo:web cannot listen on 127.0.0.1:${port}: address already in use`,
        "starting the previous version again",
        "the previous version is serving again",
      ]);
    } finally {
      busy.close();
    }
  });

  test("when the previous version does not start again either, nothing runs until a reload succeeds", async () => {
    let hostIsDown = false;
    // Replaces the built-in process.host (keeping its schema) with one that fails on demand.
    const flakyHost = defineKind({
      kind: "process.host",
      summary: "test",
      references: [],
      service: true,
      create: () => ({
        async start() {
          if (hostIsDown) throw new Error("host is down");
        },
      }),
    });
    const registry = `${REGISTRY}  - name: host\n    kind: process.host\n    lifecycle:\n      auto_start: true\n`;
    const { session, write, greet, lines } = await startFixture({ registry, kinds: [flakyHost] });
    hostIsDown = true;
    assert.equal(await session.reload([]), "failed");
    assert.equal(session.runtime, undefined);
    const broken = write("_index.yaml", registry.replace("    kind: function.ts", "      kind: function.ts"));
    assert.equal(await session.reload([broken]), "refused");
    hostIsDown = false;
    assert.equal(await session.reload([write("_index.yaml", registry)]), "reloaded");
    assert.equal(await greet(), "v1-a");
    assert.deepEqual(
      reloadLines(lines).filter((line) => !line.startsWith("_index.yaml:")),
      [
        "change detected: (reload requested) — reloading",
        "reload failed: demo:host failed to start: host is down",
        "starting the previous version again",
        "the previous version did not start either: demo:host failed to start: host is down — nothing is running; save a fix to reload",
        "change detected: _index.yaml — reloading",
        "reload refused: 2 errors — nothing is running until a reload succeeds",
        "change detected: _index.yaml — reloading",
        "reloaded in Nms (2 entries; services were down for Nms)",
      ],
    );
  });

  test("a previous version that stops with errors is reported, and the new one starts all the same", async () => {
    const stuckHost = defineKind({
      kind: "process.host",
      summary: "test",
      references: [],
      service: true,
      create: () => ({
        async stop() {
          throw new Error("stuck");
        },
      }),
    });
    const registry = `${REGISTRY}  - name: host\n    kind: process.host\n    lifecycle:\n      auto_start: true\n`;
    const { session, lines } = await startFixture({ registry, kinds: [stuckHost] });
    assert.equal(await session.reload([]), "reloaded");
    assert.deepEqual(reloadLines(lines), [
      "change detected: (reload requested) — reloading",
      "the previous version stopped with errors: stopping failed for 1 entry:\n  demo:host: stuck",
      "reloaded in Nms (2 entries; services were down for Nms)",
    ]);
    // The last stop fails the same way, and says so to its caller (the CLI prints it and exits 1).
    await assert.rejects(session.stop(), { message: "stopping failed for 1 entry:\n  demo:host: stuck" });
    fixture = undefined;
  });

  test("a bug in the reload itself is reported, and the running version keeps serving", async () => {
    let broken = false;
    const relativePath = (file: string) => {
      if (broken) throw new Error("a bug while naming a file");
      return path.basename(file);
    };
    const { session, write, greet, lines } = await startFixture({ relativePath });
    const before = session.runtime;
    broken = true;
    assert.equal(await session.reload([write("greet.ts", handler("v2"))]), "failed");
    assert.equal(session.runtime, before);
    assert.equal(await greet(), "v1-a");
    assert.equal(lines.length, 2);
    assert.match(lines[1], /^reload failed unexpectedly \(a bug — please report it\): Error: a bug while naming a file\n\s+at /);
    broken = false;
    assert.equal(await session.reload([]), "reloaded");
    assert.equal(await greet(), "v2-a");
  });

  test("an http.service on port 0 keeps the port it was given across reloads", async () => {
    const registry = `${REGISTRY}  - name: web\n    kind: http.service\n    addr: "127.0.0.1:0"\n    lifecycle:\n      auto_start: true\n`;
    const { session } = await startFixture({ registry });
    const port = () => session.runtime!.component<{ address(): { port: number } }>("demo:web").address().port;
    const first = port();
    assert.notEqual(first, 0);
    assert.equal(await session.reload([]), "reloaded");
    assert.equal(port(), first);
  });

  test("an in-memory queue driver is warned about once: a reload drops its queued messages", async () => {
    const registry = `${REGISTRY}  - name: memory
    kind: queue.driver.memory
  - name: jobs
    kind: queue.queue
    driver: demo:memory
  - name: worker
    kind: queue.consumer
    queue: demo:jobs
    func: demo:greet
    lifecycle:
      auto_start: true
`;
    const { session, lines } = await startFixture({ registry });
    const warning =
      "warning: demo:memory (queue.driver.memory) keeps queued messages in memory only: a reload drops them (messages being handled finish first); a durable driver such as queue.driver.sqlite keeps them";
    assert.deepEqual(lines.slice(1), [warning]);
    assert.equal(await session.reload([]), "reloaded");
    assert.equal(lines.filter((line) => line === warning).length, 1);
  });

  test("changes made during a reload are reloaded together right after it", async () => {
    let session: WatchSession | undefined;
    const joined: Promise<unknown>[] = [];
    const { lines, directory, ...rest } = await startFixture({
      onLine: (line) => {
        // Called synchronously as the first reload begins: these two arrive while it runs.
        if (line === "change detected: a.ts — reloading") joined.push(session!.reload([path.join(directory, "c.ts")]), session!.reload([path.join(directory, "b.ts")]));
      },
    });
    session = rest.session;
    const first = session.reload([path.join(directory, "a.ts")]);
    assert.equal(await first, "reloaded");
    assert.equal(joined.length, 2);
    assert.equal(joined[0], joined[1]);
    assert.equal(await joined[0], "reloaded");
    assert.deepEqual(
      reloadLines(lines).filter((line) => line.startsWith("change detected")),
      ["change detected: a.ts — reloading", "change detected: b.ts, c.ts — reloading"],
    );
  });

  test("stop lets a reload in progress finish, then stops the version it started", async () => {
    const { session, write } = await startFixture();
    const reloading = session.reload([write("greet.ts", handler("v2"))]);
    await new Promise((resolve) => setImmediate(resolve));
    await session.stop();
    assert.equal(await reloading, "reloaded");
    assert.equal(session.runtime!.supervisor.state("demo:greet"), SERVICE_STATE.STOPPED);
    assert.equal(await session.reload([]), "stopped");
  });

  test("a change a reload already read is not reloaded again when the watcher sees it", async () => {
    let suffixReloaded!: () => void;
    const done = new Promise<void>((resolve) => (suffixReloaded = resolve));
    const { session, write, greet, lines } = await startFixture({
      onLine: (line) => line.startsWith("reloaded in") && lines.some((seen) => seen.includes("suffix.ts")) && suffixReloaded(),
    });
    assert.equal(await session.reload([write("greet.ts", handler("v2"))]), "reloaded");
    // The watcher's event for greet.ts comes after the reload that read it; the next change is suffix.ts alone.
    write("suffix.ts", `export const suffix = "-c";\n`);
    await done;
    assert.equal(await greet(), "v2-c");
    assert.deepEqual(
      reloadLines(lines).filter((line) => line.startsWith("change detected")),
      ["change detected: greet.ts — reloading", "change detected: suffix.ts — reloading"],
    );
  });

  test("saving files reloads once they have been quiet for the debounce time", async () => {
    let reloaded!: () => void;
    const done = new Promise<void>((resolve) => (reloaded = resolve));
    const { write, greet, lines } = await startFixture({ onLine: (line) => line.startsWith("reloaded in") && reloaded() });
    write("suffix.ts", `export const suffix = "-saved";\n`);
    write("greet.ts", handler("v4"));
    write("notes.txt", "not code: ignored\n");
    write("tasks.db-wal", "a database journal: ignored\n");
    await done;
    assert.equal(await greet(), "v4-saved");
    assert.equal(reloadLines(lines)[0], "change detected: greet.ts, suffix.ts — reloading");
  });
});
