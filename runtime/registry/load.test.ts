import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, mkdir, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Problem } from "../errors.ts";
import { REGISTRY_FIXTURES as FIXTURES } from "../../test/support/registry.ts";
import { loadRegistry } from "./load.ts";

const fixture = (...parts: string[]): string => join(FIXTURES, ...parts);
const where = (problem: Problem): string =>
  problem.location ? `${problem.location.file.slice(FIXTURES.length)}:${problem.location.line}:${problem.location.column}` : "";
const summary = (problems: Problem[]): string[][] => problems.map((problem) => [problem.code, where(problem), problem.message]);

describe("loadRegistry: one file", () => {
  test("entries get namespace:name ids, their kind, and the root is the file's directory", async () => {
    const { registry, problems } = await loadRegistry(fixture("basic", "_index.yaml"));
    assert.deepEqual(problems, []);
    assert.equal(registry.root, fixture("basic"));
    assert.deepEqual(
      registry.entries.map((entry) => [entry.id, entry.namespace, entry.name, entry.kind]),
      [
        ["app:db", "app", "db", "db.sql.sqlite"],
        ["app:handler", "app", "handler", "function.ts"],
        ["app:wrapped", "app", "wrapped", "queue.consumer"],
      ],
    );
    assert.equal(registry.byId.get("app:handler"), registry.entries[1]);
  });

  test("an entry's location is its name key, and locate finds each field's key, list item, or nearest parent", async () => {
    const { registry } = await loadRegistry(fixture("basic", "_index.yaml"));
    const db = registry.byId.get("app:db")!;
    const at = (path: (string | number)[]): string => {
      const location = db.locate(path);
      return `${location.file === fixture("basic", "_index.yaml") ? "ok" : location.file}:${location.line}:${location.column}`;
    };
    assert.deepEqual(db.location, { file: fixture("basic", "_index.yaml"), line: 8, column: 5 });
    assert.equal(db.file, fixture("basic", "_index.yaml"));
    assert.equal(at(["kind"]), "ok:9:5");
    assert.equal(at(["file"]), "ok:10:5");
    assert.equal(at(["lifecycle", "auto_start"]), "ok:12:7");
    assert.equal(at(["lifecycle", "depends_on", 0]), "ok:14:11");
    assert.equal(at(["lifecycle", "restart", "max_attempts"]), "ok:11:5");
    assert.equal(at(["busy_timeout"]), "ok:8:5");
  });

  test("file-level meta is merged into every entry's meta, entry keys winning, and located where it was written", async () => {
    const { registry } = await loadRegistry(fixture("basic", "_index.yaml"));
    assert.deepEqual(registry.byId.get("app:db")!.meta, { owner: "team-a", comment: "file level" });
    const handler = registry.byId.get("app:handler")!;
    assert.deepEqual(handler.meta, { owner: "team-a", comment: "entry level" });
    assert.deepEqual(handler.locate(["meta", "comment"]), { file: handler.file, line: 19, column: 7 });
    assert.deepEqual(handler.locate(["meta", "owner"]), { file: handler.file, line: 4, column: 3 });
    assert.deepEqual(handler.locate(["meta", "router"]), { file: handler.file, line: 18, column: 5 });
  });

  test("an explicit data: map is the whole data, and its fields are located inside it", async () => {
    const { registry } = await loadRegistry(fixture("basic", "_index.yaml"));
    const wrapped = registry.byId.get("app:wrapped")!;
    assert.deepEqual(wrapped.data, { queue: "app:tasks", func: "app:handler", concurrency: 4 });
    assert.deepEqual(wrapped.meta, { owner: "team-a", comment: "file level", title: "Wrapped" });
    assert.equal(wrapped.locate(["concurrency"]).line, 31);
    assert.equal(wrapped.locate(["concurrency"]).column, 7);
    assert.equal(wrapped.locate(["prefetch"]).line, 28, "a missing data field falls back to the data: key");
  });

  test("file:// in a field its schema marks as a path becomes an absolute file:/// path relative to the YAML file; elsewhere it is data, left as written", async () => {
    const { registry } = await loadRegistry(fixture("basic", "_index.yaml"));
    const handler = registry.byId.get("app:handler")!;
    assert.equal(handler.data.source, `file://${fixture("basic", "handlers", "create.ts")}`);
    assert.deepEqual(handler.data.options, { files: ["file://sql/a.sql", "plain text"] });
  });

  test("request and response schemas are path fields too; a schedule's message body and an entry of unknown kind are not", async () => {
    await withDirectory(async (root) => {
      const file = join(root, "_index.yaml");
      await writeFile(join(root, "package.json"), "{}");
      await writeFile(
        file,
        [
          "namespace: app",
          "entries:",
          "  - name: create",
          "    kind: http.endpoint",
          "    request: { body: file://schemas/in.json, query: file://schemas/query.json }",
          "    responses: { '200': { description: ok, body: file://schemas/out.json } }",
          "  - name: tick",
          "    kind: queue.schedule",
          "    body: { attach: file://reports/monthly.csv, list: [file://a] }",
          "  - name: other",
          "    kind: no.such.kind",
          "    source: file://x.ts",
          "",
        ].join("\n"),
      );
      const { registry, problems } = await loadRegistry(file);
      assert.deepEqual(problems, []);
      const endpoint = registry.byId.get("app:create")!.data;
      assert.deepEqual(endpoint.request, { body: `file://${join(root, "schemas", "in.json")}`, query: `file://${join(root, "schemas", "query.json")}` });
      assert.deepEqual(endpoint.responses, { "200": { description: "ok", body: `file://${join(root, "schemas", "out.json")}` } });
      assert.deepEqual(registry.byId.get("app:tick")!.data.body, { attach: "file://reports/monthly.csv", list: ["file://a"] });
      assert.equal(registry.byId.get("app:other")!.data.source, "file://x.ts");
    });
  });

  test("the single-entry form takes name, kind and fields from the top level, leaving version and namespace out", async () => {
    const { registry, problems } = await loadRegistry(fixture("single", "worker.yaml"));
    assert.deepEqual(problems, []);
    const [entry] = registry.entries;
    assert.equal(entry.id, "jobs.worker:runner");
    assert.deepEqual(entry.meta, { title: "Runner" });
    assert.deepEqual(entry.data, { process: "jobs.worker:proc", host: "app:host" });
    assert.equal(entry.locate(["host"]).line, 7);
  });

  test("a file named explicitly that has no namespace is an error, not silently empty", async () => {
    const { registry, problems } = await loadRegistry(fixture("project", "src", "notes.yaml"));
    assert.equal(registry.entries.length, 0);
    assert.deepEqual(summary(problems), [["E_ENTRY_SHAPE", "project/src/notes.yaml:2:1", "not a registry file: it has no top-level namespace"]]);
  });

  test("a path that does not exist is reported, not thrown", async () => {
    const { problems } = await loadRegistry(fixture("nope.yaml"));
    assert.deepEqual(summary(problems), [["E_FILE", "", `cannot read ${fixture("nope.yaml")}: no such file or directory`]]);
    assert.equal(problems[0].hint, "give an _index.yaml, a directory of registry files, or a project directory holding wippy.lock");
  });
});

describe("loadRegistry: directories", () => {
  test("a project directory with wippy.lock loads every registry file under directories.src, relative to the lock", async () => {
    const { registry, problems } = await loadRegistry(fixture("project"));
    assert.deepEqual(problems, []);
    assert.equal(registry.root, fixture("project"));
    assert.deepEqual(
      registry.entries.map((entry) => [entry.id, entry.file.slice(FIXTURES.length)]),
      [
        ["app:api", "project/src/_index.yaml"],
        ["app.more:tasks", "project/src/nested/more.yml"],
      ],
      "node_modules, dot-directories, files without namespace and files outside src are skipped",
    );
  });

  test("a plain directory is walked the same way and is itself the root", async () => {
    const { registry, problems } = await loadRegistry(fixture("project", "src"));
    assert.deepEqual(problems, []);
    assert.equal(registry.root, fixture("project", "src"));
    assert.deepEqual(registry.entries.map((entry) => entry.id), ["app:api", "app.more:tasks"]);
  });

  test("a wippy.lock whose directories.src does not exist is reported at that line", async () => {
    const { problems } = await loadRegistry(fixture("lock-missing-src"));
    assert.deepEqual(summary(problems), [
      ["E_FILE", "lock-missing-src/wippy.lock:2:8", `directories.src names ${fixture("lock-missing-src", "nowhere")}, which does not exist`],
    ]);
  });

  test("a directory holding no registry file at all is reported", async () => {
    const { problems } = await loadRegistry(fixture("empty"));
    assert.deepEqual(summary(problems), [["E_FILE", "", `no registry files found under ${fixture("empty")}`]]);
  });

  test("a duplicate id points at the second declaration, names the first, and keeps the first", async () => {
    const { registry, problems } = await loadRegistry(fixture("duplicate"));
    assert.deepEqual(summary(problems), [["E_DUPLICATE_ID", "duplicate/b.yaml:6:5", "duplicate id app:db: already declared at a.yaml:3:5"]]);
    assert.equal(problems[0].entryId, "app:db");
    assert.deepEqual(registry.entries.map((entry) => [entry.id, entry.data.file]), [
      ["app:db", "a.db"],
      ["app:other", "b.db"],
    ]);
  });
});

describe("loadRegistry: problems", () => {
  test("every YAML syntax error of every file is located, and the other files still load", async () => {
    const { registry, problems } = await loadRegistry(fixture("syntax"));
    assert.deepEqual(summary(problems), [
      ["E_YAML", "syntax/broken.yaml:6:3", "YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]"],
      ["E_YAML", "syntax/keys.yaml:2:1", "YAML syntax: Map keys must be unique"],
      ["E_YAML", "syntax/keys.yaml:6:5", "YAML syntax: Map keys must be unique"],
    ]);
    assert.deepEqual(registry.entries.map((entry) => entry.id), ["good:db"]);
  });

  test("malformed entries are each reported at their position and the well-formed ones kept", async () => {
    const { registry, problems } = await loadRegistry(fixture("shape"));
    assert.deepEqual(summary(problems), [
      ["E_ENTRY_SHAPE", "shape/_index.yaml:6:5", "entries[1]: name is required: a non-empty string"],
      ["E_ENTRY_SHAPE", "shape/_index.yaml:7:11", 'entries[2]: name is required: a non-empty string, found ""'],
      ["E_ENTRY_SHAPE", "shape/_index.yaml:10:11", "entries[3]: kind is required: a non-empty string, found 42"],
      ["E_ENTRY_SHAPE", "shape/_index.yaml:11:5", 'entries[4]: an entry must be a map with name and kind, found "just a string"'],
      ["E_ENTRY_SHAPE", "shape/_index.yaml:14:11", "entries[5] (app:badmeta): meta must be a map, found a list"],
    ]);
    assert.deepEqual(registry.entries.map((entry) => entry.id), ["app:ok"]);
  });

  test("malformed files (bad namespace, entries not a list, no entries, meta not a map) are each reported", async () => {
    const { problems } = await loadRegistry(fixture("file-shape"));
    assert.deepEqual(summary(problems), [
      ["E_ENTRY_SHAPE", "file-shape/a.yaml:1:12", 'namespace must be a dotted identifier such as app or app.api, found "my app"'],
      ["E_ENTRY_SHAPE", "file-shape/b.yaml:3:3", "entries must be a list of entries, found a map"],
      ["E_ENTRY_SHAPE", "file-shape/c.yaml:1:1", "file has a namespace but neither an entries list nor a single entry (name and kind)"],
      ["E_ENTRY_SHAPE", "file-shape/d.yaml:2:7", "meta must be a map, found a list"],
    ]);
  });

  test("a file:// path leaving the project root, or naming no file, is an error at that field", async () => {
    const { registry, problems } = await loadRegistry(fixture("escape"));
    assert.deepEqual(summary(problems), [
      ["E_PATH_ESCAPE", "escape/_index.yaml:5:5", `source: file://../../outside.ts leaves the project root ${fixture("escape")}`],
      ["E_FILE", "escape/_index.yaml:9:5", "source: file:// names no file"],
    ]);
    assert.deepEqual(
      problems.map((problem) => [problem.entryId, problem.field]),
      [
        ["app:fn", "source"],
        ["app:empty", "source"],
      ],
    );
    assert.equal(registry.byId.get("app:fn")!.data.source, "file://../../outside.ts", "left as written");
  });

  test("without wippy.lock, file:// may reach anywhere inside the enclosing package (a registry in examples/ can use app/)", async () => {
    const { registry, problems } = await loadRegistry(fixture("package-scope"));
    assert.deepEqual(problems, []);
    assert.equal(registry.byId.get("app:greet")!.data.source, `file://${join(fixture("package-scope"), "../../handlers/greet.ts")}`);
  });

  test("an absolute file:/// path is kept when inside the root and refused outside it", async () => {
    const root = await mkdtemp(join(tmpdir(), "taskrt-load-"));
    try {
      await mkdir(join(root, "src"));
      const inside = join(root, "src", "handler.ts");
      await writeFile(
        join(root, "src", "_index.yaml"),
        `namespace: app\nentries:\n  - name: a\n    kind: function.ts\n    source: file://${inside}\n  - name: b\n    kind: function.ts\n    source: file:///etc/hosts\n`,
      );
      await writeFile(join(root, "wippy.lock"), "directories:\n  src: src\n");
      const { registry, problems } = await loadRegistry(root);
      assert.equal(registry.byId.get("app:a")!.data.source, `file://${inside}`);
      assert.deepEqual(
        problems.map((problem) => [problem.code, problem.message]),
        [["E_PATH_ESCAPE", `source: file:///etc/hosts leaves the project root ${root}`]],
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test("entries sharing a YAML anchor get separate copies of its data", async () => {
    const root = await mkdtemp(join(tmpdir(), "taskrt-load-"));
    try {
      const file = join(root, "_index.yaml");
      await writeFile(
        file,
        "namespace: app\nentries:\n  - name: a\n    kind: db.sql.sqlite\n    lifecycle: &common { auto_start: true }\n  - name: b\n    kind: db.sql.sqlite\n    lifecycle: *common\n",
      );
      const { registry } = await loadRegistry(file);
      const [first, second] = registry.entries;
      assert.deepEqual(second.data.lifecycle, { auto_start: true });
      assert.notEqual(first.data.lifecycle, second.data.lifecycle);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test("an alias bomb (aliases of aliases) is a located YAML error, not a crash or a memory blow-up", async () => {
    await withDirectory(async (root) => {
      const file = join(root, "_index.yaml");
      const levels = ["a: &a [x, x, x, x, x, x, x, x, x]"];
      for (const [name, previous] of [["b", "a"], ["c", "b"], ["d", "c"], ["e", "d"]]) levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(", ")}]`);
      await writeFile(file, `namespace: app\n${levels.join("\n")}\nentries: []\n`);
      const { problems } = await loadRegistry(file);
      assert.deepEqual(
        problems.map((problem) => [problem.code, `${problem.location?.line}:${problem.location?.column}`, problem.message, problem.hint]),
        [
          [
            "E_YAML",
            "3:8",
            "YAML aliases expand to more than 100 nodes (nested aliases of aliases): refused, as such a file can exhaust memory",
            "write the repeated values out, or alias the data itself rather than lists of aliases",
          ],
        ],
      );
    });
  });

  test("merge keys (<<: *base, <<: [*a, *b]) bring a base map's fields in, written keys winning, located where the base wrote them", async () => {
    await withDirectory(async (root) => {
      const file = join(root, "_index.yaml");
      await writeFile(
        file,
        [
          "namespace: app",
          "base: &base",
          "  kind: db.sql.sqlite",
          "  busy_timeout: 5s",
          "  synchronous: NORMAL",
          "extra: &extra { synchronous: OFF, batch_max_wait: 1ms }",
          "entries:",
          "  - <<: *base",
          "    name: db",
          "  - <<: [*extra, *base]",
          "    name: db2",
          "    busy_timeout: 1s",
          "",
        ].join("\n"),
      );
      const { registry, problems } = await loadRegistry(file);
      assert.deepEqual(problems, []);
      assert.deepEqual(
        registry.entries.map((entry) => [entry.id, entry.kind, entry.data]),
        [
          ["app:db", "db.sql.sqlite", { busy_timeout: "5s", synchronous: "NORMAL" }],
          ["app:db2", "db.sql.sqlite", { synchronous: "OFF", batch_max_wait: "1ms", busy_timeout: "1s" }],
        ],
      );
      const [db, db2] = registry.entries;
      assert.deepEqual([db.locate(["synchronous"]).line, db.locate(["synchronous"]).column], [5, 3]);
      assert.deepEqual([db2.locate(["synchronous"]).line, db2.locate(["synchronous"]).column], [6, 17]);
      assert.deepEqual([db2.locate(["busy_timeout"]).line, db2.locate(["busy_timeout"]).column], [12, 5]);
    });
  });

  test("a merge key whose value is not a map is a located YAML error", async () => {
    await withDirectory(async (root) => {
      const file = join(root, "_index.yaml");
      await writeFile(file, "namespace: app\nentries:\n  - name: db\n    <<: 5\n    kind: db.sql.sqlite\n");
      const { problems } = await loadRegistry(file);
      assert.deepEqual(
        problems.map((problem) => [problem.code, `${problem.location?.line}:${problem.location?.column}`, problem.message]),
        [["E_YAML", "4:5", "YAML: Merge sources must be maps or map aliases"]],
      );
    });
  });

  test("a registry path that is a FIFO or a device is refused at once rather than read", async () => {
    await withDirectory(async (root) => {
      const fifo = join(root, "registry.yaml");
      execFileSync("mkfifo", [fifo]);
      const cases = [
        [fifo, "a FIFO (named pipe)"],
        ["/dev/zero", "a character device"],
      ];
      for (const [path, type] of cases) {
        const { problems } = await loadRegistry(path);
        assert.deepEqual(
          problems.map((problem) => [problem.code, problem.location, problem.message]),
          [["E_FILE", { file: path, line: 1, column: 1 }, `cannot read ${path}: it is ${type}, not a regular file`]],
        );
      }
    });
  });
});

describe("loadRegistry: symbolic links and the project root", () => {
  const hint = "a symbolic link leads out of the project: copy the file into the project, or point the link inside it";

  test("a file:// source or request schema whose link (or linked directory) leads outside the root is refused, naming the real path", async () => {
    await withDirectory(async (base) => {
      const root = join(base, "project");
      const outside = join(base, "outside");
      await mkdir(root);
      await mkdir(outside);
      await writeFile(join(outside, "evil.ts"), "export function handle() {}\n");
      await writeFile(join(outside, "secret.json"), '{"password": "hunter2"}\n');
      await writeFile(join(root, "wippy.lock"), "");
      await symlink(join(outside, "evil.ts"), join(root, "handler.ts"));
      await symlink(outside, join(root, "schemas"));
      await writeFile(join(root, "inside.ts"), "export function handle() {}\n");
      await symlink(join(root, "inside.ts"), join(root, "alias.ts"));
      await writeFile(
        join(root, "_index.yaml"),
        [
          "namespace: app",
          "entries:",
          "  - { name: evil, kind: function.ts, method: handle, source: file://handler.ts }",
          "  - { name: api, kind: http.endpoint, request: { body: file://schemas/secret.json } }",
          "  - { name: fine, kind: function.ts, method: handle, source: file://alias.ts }",
          "",
        ].join("\n"),
      );
      const { registry, problems } = await loadRegistry(root);
      const real = await realpath(outside);
      assert.deepEqual(
        problems.map((problem) => [problem.code, problem.entryId, `${problem.location?.line}:${problem.location?.column}`, problem.message, problem.hint]),
        [
          ["E_PATH_ESCAPE", "app:evil", "3:54", `source: file://handler.ts resolves to ${join(real, "evil.ts")}, outside the project root ${root}`, hint],
          ["E_PATH_ESCAPE", "app:api", "4:50", `request.body: file://schemas/secret.json resolves to ${join(real, "secret.json")}, outside the project root ${root}`, hint],
        ],
      );
      assert.equal(registry.byId.get("app:fine")!.data.source, `file://${join(root, "alias.ts")}`, "a link that stays inside is followed");
    });
  });

  test("a registry file linked from outside the root, or directories.src leading outside, is refused and not read", async () => {
    await withDirectory(async (base) => {
      const root = join(base, "project");
      const outside = join(base, "outside");
      await mkdir(join(root, "src"), { recursive: true });
      await mkdir(outside);
      await writeFile(join(outside, "stolen.yaml"), "namespace: stolen\nentries:\n  - { name: db, kind: db.sql.sqlite, file: x.db }\n");
      await writeFile(join(root, "wippy.lock"), "directories:\n  src: src\n");
      await writeFile(join(root, "src", "_index.yaml"), "namespace: app\nentries:\n  - { name: db, kind: db.sql.sqlite, file: x.db }\n");
      await symlink(join(outside, "stolen.yaml"), join(root, "src", "linked.yaml"));
      const real = await realpath(outside);
      const first = await loadRegistry(root);
      assert.deepEqual(first.registry.entries.map((entry) => entry.id), ["app:db"]);
      assert.deepEqual(
        first.problems.map((problem) => [problem.code, problem.location, problem.message, problem.hint]),
        [
          [
            "E_PATH_ESCAPE",
            { file: join(root, "src", "linked.yaml"), line: 1, column: 1 },
            `registry file ${join(root, "src", "linked.yaml")} resolves to ${join(real, "stolen.yaml")}, outside the project root ${root}`,
            hint,
          ],
        ],
      );
      await writeFile(join(root, "wippy.lock"), "directories:\n  src: linked-src\n");
      await symlink(outside, join(root, "linked-src"));
      const second = await loadRegistry(root);
      assert.deepEqual(second.registry.entries, []);
      assert.deepEqual(
        second.problems.map((problem) => [problem.code, `${problem.location?.line}:${problem.location?.column}`, problem.message]),
        [["E_PATH_ESCAPE", "2:8", `directories.src: linked-src resolves to ${real}, outside the project root ${root}`]],
      );
      await writeFile(join(root, "wippy.lock"), "directories:\n  src: ../outside\n");
      const third = await loadRegistry(root);
      assert.deepEqual(
        third.problems.map((problem) => problem.message),
        [`directories.src: ../outside is ${outside}, outside the project root ${root}`],
      );
    });
  });

  test("a file:// path naming a FIFO or a directory is refused rather than read", async () => {
    await withDirectory(async (root) => {
      await writeFile(join(root, "package.json"), "{}");
      execFileSync("mkfifo", [join(root, "pipe.json")]);
      await mkdir(join(root, "handlers"));
      await writeFile(
        join(root, "_index.yaml"),
        "namespace: app\nentries:\n  - { name: api, kind: http.endpoint, request: { query: file://pipe.json } }\n  - { name: fn, kind: function.ts, method: m, source: file://handlers }\n",
      );
      const { problems } = await loadRegistry(root);
      assert.deepEqual(
        problems.map((problem) => [problem.code, problem.message]),
        [
          ["E_FILE", "request.query: file://pipe.json is a FIFO (named pipe), not a regular file"],
          ["E_FILE", "source: file://handlers is a directory, not a regular file"],
        ],
      );
    });
  });
});

async function withDirectory(body: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "taskrt-load-"));
  try {
    await body(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
