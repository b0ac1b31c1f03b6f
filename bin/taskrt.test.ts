import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const FIVE = "test/fixtures/cli/five-problems";
const VALID = "test/fixtures/cli/valid";
// The hint lists http.endpoint's fields, which grow with its schema: only the first ones are pinned.
const VALID_WARNING = String.raw`test/fixtures/cli/valid/_index\.yaml:36:5: warning W_UNKNOWN_FIELD \[demo:hello\.endpoint\] unknown field "concurency": http\.endpoint has no such field and ignores it \(hint: known fields: method, path, func[a-z_, ]*\)\n`;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function taskrt(args: string[], options: { untilStderr?: RegExp; then?: (child: ReturnType<typeof spawn>, stderrSoFar: string) => void } = {}): Promise<Outcome> {
  const child = spawn(process.execPath, ["bin/taskrt.js", ...args], { env: { ...process.env, NO_COLOR: "1" } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    if (options.untilStderr?.test(stderr) && options.then) {
      const act = options.then;
      options.then = undefined;
      act(child, stderr);
    }
  });
  const [code] = await once(child, "exit");
  return { code, stdout, stderr };
}

describe("taskrt validate", () => {
  test("reports every problem with its location, and exits 1", async () => {
    const { code, stdout } = await taskrt(["validate", FIVE]);
    assert.equal(code, 1);
    const lines = stdout.trim().split("\n");
    assert.equal(lines.length, 6);
    assert.deepEqual(
      lines.slice(0, 5).map((line) => line.split(" ").slice(0, 4).join(" ")),
      [
        `${FIVE}/_index.yaml:10:5: error E_UNKNOWN_KIND [app:queue_driver]`,
        `${FIVE}/_index.yaml:14:5: error E_REF_KIND [app:tasks_queue]`,
        `${FIVE}/_index.yaml:18:5: error E_SOURCE_MISSING [app:worker]`,
        `${FIVE}/_index.yaml:24:5: error E_REF_UNRESOLVED [app:consumer]`,
        `${FIVE}/_index.yaml:25:5: error E_SCHEMA [app:consumer]`,
      ],
    );
    assert.match(lines[0], /unknown kind "queue\.driver\.memroy" \(hint: did you mean "queue\.driver\.memory"/);
    assert.match(lines[1], /driver: app:db is a db\.sql\.sqlite, expected queue\.driver\.\*/);
    assert.match(lines[3], /func: no entry app:wroker \(hint: did you mean app:worker\?\)/);
    assert.match(lines[4], /concurrency: must be <= 1000, found 5000/);
    assert.equal(lines[5], "5 entries: 5 errors, 0 warnings");
  });

  test("--format json gives the same problems as data", async () => {
    const { code, stdout } = await taskrt(["validate", FIVE, "--format", "json"]);
    assert.equal(code, 1);
    const report = JSON.parse(stdout);
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.problems.map((problem: { code: string; entryId: string; location: { line: number } }) => [problem.code, problem.entryId, problem.location.line]),
      [
        ["E_UNKNOWN_KIND", "app:queue_driver", 10],
        ["E_REF_KIND", "app:tasks_queue", 14],
        ["E_SOURCE_MISSING", "app:worker", 18],
        ["E_REF_UNRESOLVED", "app:consumer", 24],
        ["E_SCHEMA", "app:consumer", 25],
      ],
    );
  });

  test("is quiet on a clean registry but still shows warnings, and exits 0", async () => {
    const { code, stdout } = await taskrt(["validate", VALID]);
    assert.equal(code, 0);
    assert.match(stdout, new RegExp(`^${VALID_WARNING}5 entries: 0 errors, 1 warning\n$`));
  });

  test("--strict makes an unknown field an error, and exits 1", async () => {
    const { code, stdout } = await taskrt(["validate", "--strict", VALID]);
    assert.equal(code, 1);
    assert.match(
      stdout,
      /^test\/fixtures\/cli\/valid\/_index\.yaml:36:5: error W_UNKNOWN_FIELD \[demo:hello\.endpoint\] unknown field "concurency": http\.endpoint has no such field, and unknown fields are refused in strict mode \(hint: known fields: method, [a-z_, ]*\)\n5 entries: 1 error, 0 warnings\n$/,
    );
  });

  test("an override naming no entry is an error", async () => {
    const { code, stdout } = await taskrt(["validate", VALID, "-o", "demo:gatway:addr=:1"]);
    assert.equal(code, 1);
    assert.match(stdout, /error E_OVERRIDE .*no entry demo:gatway.*did you mean demo:gateway/);
  });

  test("a file that does not parse is reported alone: overrides are checked once it loads", async () => {
    const directory = mkdtempSync(path.join(tmpdir(), "taskrt-cli-"));
    try {
      writeFileSync(path.join(directory, "_index.yaml"), 'version: "1.0"\nnamespace: app\nentries:\n  - name: gateway\n      kind: http.service\n');
      const { code, stdout } = await taskrt(["validate", directory, "-o", "app:gateway:addr=:1"]);
      assert.equal(code, 1);
      assert.match(stdout, /error E_YAML YAML syntax/);
      assert.doesNotMatch(stdout, /E_OVERRIDE/);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test("never runs handler code: a handler that writes a file and exits at import cannot hide the registry's errors", async () => {
    const directory = mkdtempSync(path.join(tmpdir(), "taskrt-cli-"));
    try {
      const marker = path.join(directory, "ran.txt");
      writeFileSync(path.join(directory, "package.json"), '{ "type": "module" }\n');
      writeFileSync(
        path.join(directory, "exits.ts"),
        `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(marker)}, "ran");\nprocess.exit(0);\nexport function main(): void {}\n`,
      );
      writeFileSync(
        path.join(directory, "_index.yaml"),
        'version: "1.0"\nnamespace: app\nentries:\n  - name: exits\n    kind: function.ts\n    source: file://exits.ts\n    method: main\n  - name: db\n    kind: db.sql.sqlite\n    file: ":memory:"\n    synchronous: fast\n',
      );
      const { code, stdout } = await taskrt(["validate", directory]);
      assert.equal(code, 1);
      assert.match(stdout, /_index\.yaml:11:5: error E_SCHEMA \[app:db\] synchronous: must be one of "OFF", "NORMAL", "FULL", "EXTRA", found "fast"/);
      assert.equal(existsSync(marker), false, "the handler's top-level code did not run");
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test("an alias bomb and an override through __proto__ are registry errors (exit 1), not crashes (exit 70)", async () => {
    const directory = mkdtempSync(path.join(tmpdir(), "taskrt-cli-"));
    try {
      const file = path.join(directory, "_index.yaml");
      const levels = ["a: &a [x, x, x, x, x, x, x, x, x]", ...["b", "c", "d", "e"].map((name, index) => `${name}: &${name} [${Array(9).fill(`*${"abcd"[index]}`).join(", ")}]`)];
      writeFileSync(file, `namespace: app\n${levels.join("\n")}\nentries: []\n`);
      const bomb = await taskrt(["validate", file]);
      assert.equal(bomb.code, 1);
      assert.equal(
        bomb.stdout,
        `${file}:3:8: error E_YAML YAML aliases expand to more than 100 nodes (nested aliases of aliases): refused, as such a file can exhaust memory (hint: write the repeated values out, or alias the data itself rather than lists of aliases)\n0 entries: 1 error, 0 warnings\n`,
      );
      writeFileSync(file, 'namespace: app\nentries:\n  - name: db\n    kind: db.sql.sqlite\n    file: ":memory:"\n');
      const proto = await taskrt(["validate", file, "-o", "app:db:__proto__.polluted=1"]);
      assert.equal(proto.code, 1);
      assert.equal(
        proto.stdout,
        'error E_OVERRIDE override -o app:db:__proto__.polluted=1: "__proto__" cannot be overridden: it names JavaScript object internals, not a registry field\n1 entry: 1 error, 0 warnings\n',
      );
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe("taskrt run", () => {
  test("refuses a registry with problems, printing them, and exits 1", async () => {
    const { code, stderr } = await taskrt(["run", FIVE]);
    assert.equal(code, 1);
    assert.match(stderr, /_index\.yaml:25:5: error E_SCHEMA \[app:consumer\] concurrency: must be <= 1000, found 5000/);
    assert.match(stderr, /taskrt: not starting: 5 errors, 0 warnings\n$/);
  });

  test("--strict refuses to start a registry with an unknown field", async () => {
    const { code, stderr } = await taskrt(["run", "--strict", VALID]);
    assert.equal(code, 1);
    assert.match(stderr, /_index\.yaml:36:5: error W_UNKNOWN_FIELD \[demo:hello\.endpoint\] unknown field "concurency": http\.endpoint has no such field, and unknown fields are refused in strict mode/);
    assert.match(stderr, /taskrt: not starting: 1 error, 0 warnings\n$/);
  });

  test("starts, serves, and stops cleanly on SIGTERM with exit 0", async () => {
    let served: unknown;
    const { code, stderr } = await taskrt(["run", VALID], {
      untilStderr: /ready in \d+ms/,
      then: (child, soFar) => {
        const port = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(soFar)?.[1];
        fetch(`http://127.0.0.1:${port}/api/hello/ada`)
          .then((response) => response.json())
          .then((body) => (served = body))
          .finally(() => child.kill("SIGTERM"));
      },
    });
    assert.deepEqual(served, { hello: "ada" });
    assert.equal(code, 0);
    assert.match(stderr, /received SIGTERM: stopping/);
    assert.match(stderr, /stopped cleanly\n$/);
  });

  test("a port already in use is a clear one-line error", async () => {
    const { createServer } = await import("node:net");
    const blocker = createServer().listen(0, "127.0.0.1");
    await once(blocker, "listening");
    const port = (blocker.address() as { port: number }).port;
    try {
      const { code, stderr } = await taskrt(["run", VALID, "-o", `demo:gateway:addr=127.0.0.1:${port}`]);
      assert.equal(code, 1);
      assert.match(stderr, new RegExp(`taskrt: demo:gateway cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
      assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace for a user error");
    } finally {
      blocker.close();
    }
  });
});

describe("taskrt help and usage", () => {
  test("--version after a command prints the version and starts nothing", async () => {
    const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    for (const args of [["run", VALID, "--version"], ["validate", VALID, "-v"]]) {
      const { code, stdout, stderr } = await taskrt(args);
      assert.deepEqual({ code, stdout, stderr }, { code: 0, stdout: `${version}\n`, stderr: "" }, args.join(" "));
    }
  });

  test("--help lists the commands and their options", async () => {
    const { code, stdout } = await taskrt(["--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /^taskrt \d+\.\d+\.\d+ — run Wippy-style YAML registries on Node\n/);
    assert.match(stdout, /taskrt run \[PATH\] \[-o ns:entry:field=value\]…\s+validate, then start every auto-start entry/);
    assert.match(stdout, /taskrt validate PATH \[--format text\|json\]\s+check a registry; exit 1 on any error/);
    assert.match(stdout, /-o, --override ns:entry:field=value/);
  });

  test("--help lists graph, inspect and init with their options", async () => {
    const { stdout } = await taskrt(["--help"]);
    const lines = stdout.split("\n");
    for (const line of [
      "  taskrt graph PATH [--format mermaid|dot]       draw the entries and their references",
      "  taskrt inspect PATH [ID] [--format text|json]  list the entries, or show one, as the runtime sees them",
      "  taskrt init [DIR] [--force] [--install]        create a project that runs and passes its test",
      "      --strict                           refuse unknown fields (errors, not warnings): a typo cannot leave a field at its default",
      "Options for graph:",
      "      --format mermaid|dot               a Mermaid flowchart (default) or a Graphviz digraph",
      "Options for inspect:",
      "      --format text|json                 for people (default) or as JSON",
      "Options for init:",
      "      --force                            write into a non-empty DIR, replacing files of the same names",
      "      --install                          run npm install in DIR afterwards (npm's progress shows on a terminal)",
      "      --taskrt-path PATH                 depend on this taskrt folder or .tgz; default: the registry's version if published, else this installation",
    ]) {
      assert.ok(lines.includes(line), `help has the line ${JSON.stringify(line)}`);
    }
  });

  test("a command's --help shows only that command", async () => {
    const { code, stdout } = await taskrt(["graph", "--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /\nUsage:\n  taskrt graph PATH \[--format mermaid\|dot\]  draw the entries and their references\n\nOptions for graph:\n/);
    assert.doesNotMatch(stdout, /taskrt run/);
  });

  test("a value outside a flag's choices is a usage error listing them", async () => {
    const { code, stderr } = await taskrt(["graph", VALID, "--format", "svg"]);
    assert.equal(code, 2);
    assert.equal(stderr, "taskrt: --format must be mermaid or dot, got 'svg'\nRun 'taskrt --help' for usage.\n");
  });

  test("an unknown command says so and exits 2", async () => {
    const { code, stderr } = await taskrt(["serve", "x"]);
    assert.equal(code, 2);
    assert.equal(stderr, "taskrt: unknown command 'serve'\nRun 'taskrt --help' for usage.\n");
  });
});

describe("taskrt graph", () => {
  test("draws the registry as a Mermaid flowchart on stdout, warnings on stderr", async () => {
    const { code, stdout, stderr } = await taskrt(["graph", VALID]);
    assert.equal(code, 0);
    assert.equal(
      stdout,
      [
        "flowchart LR",
        '    subgraph demo["demo"]',
        '        demo_db[("demo:db<br/>db.sql.sqlite")]',
        '        demo_hello[["demo:hello<br/>function.ts"]]',
        '        demo_gateway["demo:gateway<br/>http.service"]',
        '        demo_router["demo:router<br/>http.router"]',
        '        demo_hello_endpoint["demo:hello.endpoint<br/>http.endpoint"]',
        "    end",
        '    demo_router -->|"meta.server"| demo_gateway',
        '    demo_hello_endpoint -->|"meta.router"| demo_router',
        '    demo_hello_endpoint -->|"func"| demo_hello',
        "",
      ].join("\n"),
    );
    assert.match(stderr, new RegExp(`^${VALID_WARNING}$`));
  });

  test("--format dot draws the same graph for Graphviz", async () => {
    const { code, stdout } = await taskrt(["graph", VALID, "--format", "dot"]);
    assert.equal(code, 0);
    assert.match(stdout, /^digraph registry \{\n    rankdir=LR;\n    subgraph "cluster_demo" \{\n/);
    assert.match(stdout, /\n    "demo:hello\.endpoint" -> "demo:hello" \[label="func"\];\n\}\n$/);
  });

  test("overrides are applied and validated before drawing", async () => {
    const { code, stdout, stderr } = await taskrt(["graph", VALID, "-o", "demo:hello.endpoint:func=demo:db"]);
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.match(stderr, /error E_REF_KIND \[demo:hello\.endpoint\] func: demo:db is a db\.sql\.sqlite, expected function\.\*/);
    assert.match(stderr, /\ntaskrt: not drawing the graph: 1 error, 1 warning\n$/);
  });

  test("refuses a registry with errors: the problems on stderr, nothing on stdout, exit 1", async () => {
    const { code, stdout, stderr } = await taskrt(["graph", FIVE]);
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.equal(stderr.trim().split("\n").length, 6);
    assert.match(stderr, /_index\.yaml:25:5: error E_SCHEMA \[app:consumer\] concurrency: must be <= 1000, found 5000/);
    assert.match(stderr, /\ntaskrt: not drawing the graph: 5 errors, 0 warnings\n$/);
  });

  test("takes exactly one PATH", async () => {
    const { code, stderr } = await taskrt(["graph"]);
    assert.equal(code, 2);
    assert.equal(stderr, "taskrt: graph takes one PATH (an _index.yaml, a directory, or a project with wippy.lock)\nRun 'taskrt --help' for usage.\n");
  });
});

describe("taskrt inspect", () => {
  test("without an id, lists every entry with its kind, place and resolved references", async () => {
    const { code, stdout } = await taskrt(["inspect", VALID]);
    assert.equal(code, 0);
    assert.equal(
      stdout,
      [
        "ID                   KIND           DEFINED AT                                REFERENCES",
        `demo:db              db.sql.sqlite  ${VALID}/_index.yaml:5:5`,
        `demo:hello           function.ts    ${VALID}/_index.yaml:11:5`,
        `demo:gateway         http.service   ${VALID}/_index.yaml:17:5`,
        `demo:router          http.router    ${VALID}/_index.yaml:23:5  meta.server → demo:gateway`,
        `demo:hello.endpoint  http.endpoint  ${VALID}/_index.yaml:29:5  meta.router → demo:router, func → demo:hello`,
        "",
      ].join("\n"),
    );
  });

  test("with an id, shows its data with defaults filled, its references both ways, and its lifecycle", async () => {
    const { code, stdout, stderr } = await taskrt(["inspect", VALID, "demo:gateway"]);
    assert.equal(code, 0);
    assert.equal(
      stdout,
      [
        "demo:gateway (http.service)",
        `defined at ${VALID}/_index.yaml:17:5`,
        "",
        "data:",
        "  addr: 127.0.0.1:0",
        "  lifecycle:",
        "    auto_start: true",
        "    start_timeout: 10s",
        "    stop_timeout: 10s",
        "    stable_threshold: 5s",
        "    requires: []",
        "    depends_on: []",
        "    startup: required",
        "    restart:",
        "      initial_delay: 1s",
        "      max_delay: 90s",
        "      backoff_factor: 2",
        "      jitter: 0.1",
        "      max_attempts: 0",
        "  timeouts:",
        "    read: 30s",
        "    write: 30s",
        "    idle: 60s",
        "  max_body: 1048576",
        "  max_json_depth: 128",
        "  max_connections: 1000",
        "",
        "meta: {}",
        "",
        "references: none",
        "",
        "referenced by:",
        "  demo:router  meta.server",
        "",
        "lifecycle:",
        "  service, auto_start: true",
        "  requires: none",
        "  starts after: none",
        "  at boot: started (auto_start)",
        "",
      ].join("\n"),
    );
    assert.match(stderr, new RegExp(`^${VALID_WARNING}$`));
  });

  test("--format json gives one entry as data, references as full ids", async () => {
    const { code, stdout } = await taskrt(["inspect", VALID, "demo:hello.endpoint", "--format", "json"]);
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout), {
      id: "demo:hello.endpoint",
      kind: "http.endpoint",
      namespace: "demo",
      name: "hello.endpoint",
      location: { file: path.resolve(VALID, "_index.yaml"), line: 29, column: 5 },
      data: { method: "GET", path: "/hello/{name}", func: "demo:hello", concurency: 3 },
      meta: { router: "demo:router" },
      references: [
        { field: "meta.router", target: "demo:router", kind: "http.router" },
        { field: "func", target: "demo:hello", kind: "function.ts" },
      ],
      referenced_by: [],
      lifecycle: { service: false },
    });
  });

  test("shows the entry with overrides applied", async () => {
    const { stdout } = await taskrt(["inspect", VALID, "demo:gateway", "-o", "demo:gateway:addr=127.0.0.1:9"]);
    assert.match(stdout, /\ndata:\n  addr: 127\.0\.0\.1:9\n/);
  });

  test("--format json without an id lists the entries", async () => {
    const { stdout } = await taskrt(["inspect", VALID, "--format", "json"]);
    const { entries } = JSON.parse(stdout);
    assert.deepEqual(entries[3], {
      id: "demo:router",
      kind: "http.router",
      location: { file: path.resolve(VALID, "_index.yaml"), line: 23, column: 5 },
      references: [{ field: "meta.server", target: "demo:gateway" }],
    });
  });

  test("an unknown id is an error suggesting the closest, exit 1", async () => {
    const { code, stdout, stderr } = await taskrt(["inspect", VALID, "demo:helo"]);
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.match(stderr, new RegExp(`^${VALID_WARNING}taskrt: no entry demo:helo\n  hint: did you mean "demo:hello"\\?\n$`));
  });

  test("refuses a registry with errors, exit 1", async () => {
    const { code, stdout, stderr } = await taskrt(["inspect", FIVE, "app:consumer"]);
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.match(stderr, /\ntaskrt: not inspecting: 5 errors, 0 warnings\n$/);
  });

  test("takes a PATH and at most one id", async () => {
    const { code, stderr } = await taskrt(["inspect", VALID, "a", "b"]);
    assert.equal(code, 2);
    assert.equal(stderr, "taskrt: inspect takes a PATH (an _index.yaml, a directory, or a project with wippy.lock) and optionally an entry id\nRun 'taskrt --help' for usage.\n");
  });
});
