import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { TaskrtError } from "./errors.ts";
import { loadKindModules } from "./kind-modules.ts";
import { checkRegistry } from "./runtime.ts";

const workspaces: string[] = [];
after(() => {
  for (const directory of workspaces) rmSync(directory, { recursive: true, force: true });
});

/** A project directory with the given files (a registry in `app/`), returned as its absolute path. */
function project(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), "taskrt-kinds-"));
  workspaces.push(root);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
  }
  return root;
}

const KIND = (kind: string, extra = "") => `export default {
  kind: "${kind}",
  summary: "A test kind.",
  schema: { description: "A test kind.", properties: { size: { type: "integer", minimum: 1, default: 3, description: "How many." } } },
  references: [],
  service: false,
  create: (entry) => ({ describe: () => String(entry.data.size) }),
  ${extra}
};
`;
const REGISTRY = "namespace: app\nentries:\n  - name: thing\n    kind: test.thing\n";

async function refusal(options: Parameters<typeof loadKindModules>[0]): Promise<{ message: string; hint?: string }> {
  try {
    await loadKindModules(options);
  } catch (error) {
    assert.ok(error instanceof TaskrtError, `a TaskrtError, got ${String(error)}`);
    assert.equal(error.code, "E_KIND_MODULE");
    return { message: error.message, hint: error.hint };
  }
  assert.fail("the kind modules loaded");
}

describe("loadKindModules", () => {
  test("loads the kinds package.json lists and those given with --kinds, TypeScript too, and a module listed twice once", async () => {
    const root = project({
      "package.json": JSON.stringify({ name: "p", taskrt: { kinds: ["./kinds/thing.mjs"] } }),
      "kinds/thing.mjs": KIND("test.thing"),
      "kinds/typed.ts": `const size: number = 1;\nexport default [{ kind: "test.typed", summary: "Typed.", schema: { properties: { size: { type: "integer", default: size } } }, references: [], service: false, create: () => ({}) }];\n`,
      "app/_index.yaml": REGISTRY,
    });
    const kinds = await loadKindModules({ registryPath: "app", modules: ["./kinds/typed.ts", "./kinds/thing.mjs"], cwd: root });
    assert.deepEqual(
      kinds.map((definition) => definition.kind),
      ["test.thing", "test.typed"],
    );
  });

  test("the loaded kind validates entries with its schema's defaults, as built-in kinds do", async () => {
    const root = project({ "package.json": JSON.stringify({ name: "p", taskrt: { kinds: ["./thing.mjs"] } }), "thing.mjs": KIND("test.thing"), "app/_index.yaml": `${REGISTRY}    size: 0\n  - name: other\n    kind: test.thing\n` });
    const kinds = await loadKindModules({ registryPath: path.join(root, "app") });
    const { registry, problems } = await checkRegistry({ path: path.join(root, "app"), kinds });
    assert.deepEqual(
      problems.map((problem) => `${path.relative(root, problem.location!.file)}:${problem.location!.line}:${problem.location!.column} ${problem.code} ${problem.message}`),
      ["app/_index.yaml:5:5 E_SCHEMA size: must be >= 1, found 0"],
    );
    assert.equal(registry.byId.get("app:other")!.data.size, 3);
  });

  test("without package.json settings or --kinds there are none", async () => {
    const root = project({ "package.json": JSON.stringify({ name: "p" }), "app/_index.yaml": REGISTRY });
    assert.deepEqual(await loadKindModules({ registryPath: path.join(root, "app/_index.yaml") }), []);
  });

  test("a module without a default export is refused, naming its exports", async () => {
    const root = project({ "package.json": "{}", "named.mjs": "export const kind = {};\nexport function helper() {}\n" });
    assert.deepEqual(await refusal({ registryPath: root, modules: ["./named.mjs"], cwd: root }), {
      message: "kind module ./named.mjs: expected a default export of kind definitions, found no default export (its exports: helper, kind)",
      hint: 'write `export default defineKind({ kind, summary, schema, references, service, create })` (defineKind is exported by "taskrt"), or a list of such',
    });
  });

  test("a default export that is not a kind definition is refused with what is wrong", async () => {
    const root = project({
      "package.json": "{}",
      "number.mjs": "export default 42;\n",
      "partial.mjs": 'export default { kind: "test.partial", summary: "Partial.", service: false, references: [] };\n',
      "list.mjs": `${KIND("test.first").replace("export default", "const first =")}export default [first, { kind: "nodots" }];\n`,
      "noschema.mjs": 'export default { kind: "test.bare", summary: "Bare.", service: false, references: [], create() {} };\n',
    });
    const message = async (module: string) => (await refusal({ registryPath: root, modules: [module], cwd: root })).message;
    assert.equal(await message("./number.mjs"), "kind module ./number.mjs: the default export is not a kind definition: expected a map, found 42");
    assert.equal(await message("./partial.mjs"), "kind module ./partial.mjs: the default export is not a kind definition: test.partial: create must be a function, found undefined");
    assert.equal(await message("./list.mjs"), 'kind module ./list.mjs: item 2 of the default export is not a kind definition: kind must be a dotted name such as static.files, found "nodots"');
    assert.equal(await message("./noschema.mjs"), "kind module ./noschema.mjs: the default export is not a kind definition: test.bare: schema must be the JSON Schema of its entries' fields (a map), found undefined");
  });

  test("a kind named like a built-in one, or defined by two modules, is refused", async () => {
    const root = project({ "package.json": JSON.stringify({ taskrt: { kinds: ["./one.mjs"] } }), "router.mjs": KIND("http.router"), "one.mjs": KIND("test.thing"), "two.mjs": KIND("test.thing") });
    assert.deepEqual(await refusal({ registryPath: root, modules: ["./router.mjs"], cwd: root }), {
      message: "kind module ./router.mjs: kind http.router is built into taskrt",
      hint: "give your kind a name of its own, such as one starting with your project's name",
    });
    assert.deepEqual(await refusal({ registryPath: root, modules: ["./two.mjs"], cwd: root }), {
      message: `kind module ./two.mjs: kind test.thing is already defined by kind module ./one.mjs (listed in ${path.join(root, "package.json")})`,
      hint: "load one of the two modules, or rename one kind",
    });
  });

  test("a kind whose schema is not valid JSON Schema is refused with Ajv's reason, naming the kind", async () => {
    const root = project({
      "package.json": "{}",
      "typo.mjs": KIND("test.typo").replace('type: "integer"', 'type: "integr"'),
      "unknown.mjs": KIND("test.unknown").replace("minimum: 1", "minimun: 1"),
    });
    const { message } = await refusal({ registryPath: root, modules: ["./typo.mjs"], cwd: root });
    assert.match(message, /^kind module \.\/typo\.mjs: the schema of test\.typo is not a valid JSON Schema: schema is invalid: data\/properties\/size\/type must be equal to one of the allowed values/);
    assert.equal((await refusal({ registryPath: root, modules: ["./unknown.mjs"], cwd: root })).message, 'kind module ./unknown.mjs: the schema of test.unknown is not a valid JSON Schema: strict mode: unknown keyword: "minimun"');
  });

  test("a schema whose definitions would clash in the editors' schema is refused", async () => {
    const root = project({ "package.json": "{}", "clash.mjs": KIND("test.clash").replace('schema: { description: "A test kind.",', 'schema: { description: "A test kind.", definitions: { duration: { type: "string" } },') });
    assert.equal(
      (await refusal({ registryPath: root, modules: ["./clash.mjs"], cwd: root })).message,
      'kind module ./clash.mjs: the schema of test.clash cannot join the editors\' schema: definition "duration" of test.clash collides with another in the manifest',
    );
  });

  test("two kinds whose definitions share a name are refused together, since editors get one schema", async () => {
    const withShape = (kind: string) => KIND(kind).replace('schema: { description: "A test kind.",', 'schema: { description: "A test kind.", definitions: { shape: { type: "string" } },');
    const root = project({ "package.json": "{}", "one.mjs": withShape("test.one"), "two.mjs": withShape("test.two") });
    assert.deepEqual(await refusal({ registryPath: root, modules: ["./one.mjs", "./two.mjs"], cwd: root }), {
      message: 'the kind modules\' schemas cannot join the editors\' schema together: definition "shape" of test.two collides with another in the manifest',
      hint: "give each kind's definitions names of their own",
    });
  });

  test("a service kind gets taskrt's lifecycle field, with its defaults, unless its schema declares one", async () => {
    const root = project({ "package.json": "{}", "service.mjs": KIND("test.thing").replace("service: false", "service: true"), "app/_index.yaml": `${REGISTRY}    lifecycle: { auto_start: true }\n` });
    const kinds = await loadKindModules({ registryPath: path.join(root, "app"), modules: ["./service.mjs"], cwd: root });
    const { registry, problems } = await checkRegistry({ path: path.join(root, "app"), kinds });
    assert.deepEqual(problems, []);
    const lifecycle = registry.byId.get("app:thing")!.data.lifecycle as Record<string, unknown>;
    assert.deepEqual([lifecycle.auto_start, lifecycle.start_timeout], [true, "10s"]);
  });

  test("modules that cannot be found or loaded, and package.json settings of the wrong shape, are refused", async () => {
    const root = project({ "package.json": JSON.stringify({ taskrt: { kinds: "./one.mjs" } }), "broken.mjs": "export default {;\n", "local.mjs": KIND("test.local"), "sub/_index.yaml": REGISTRY });
    const inner = project({ "package.json": "{}" });
    assert.deepEqual(await refusal({ registryPath: path.join(root, "sub") }), {
      message: `${path.join(root, "package.json")}: "taskrt" must be { "kinds": [module paths or package names] }, found "kinds": "./one.mjs"`,
      hint: 'for example "taskrt": { "kinds": ["./kinds/static-files.ts", "taskrt-kind-redis"] }',
    });
    assert.equal((await refusal({ registryPath: inner, modules: ["./missing.mjs"], cwd: inner })).message, `kind module ./missing.mjs: ${path.join(inner, "missing.mjs")} does not exist`);
    assert.match((await refusal({ registryPath: inner, modules: ["./broken.mjs"], cwd: root })).message, new RegExp(`^kind module \\./broken\\.mjs: cannot load ${path.join(root, "broken.mjs")}: Unexpected token`));
    const unknown = await refusal({ registryPath: inner, modules: ["taskrt-kind-nowhere"], cwd: inner });
    assert.equal(unknown.message, `kind module taskrt-kind-nowhere: no package taskrt-kind-nowhere can be loaded from ${inner}: Cannot find module 'taskrt-kind-nowhere'`);
    assert.equal(unknown.hint, `install the package in ${inner}, or give a path (./kinds/my-kind.ts)`);
    writeFileSync(path.join(inner, "local.mjs"), KIND("test.local"));
    assert.equal((await refusal({ registryPath: inner, modules: ["local.mjs"], cwd: inner })).hint, "a path is written with ./ — did you mean ./local.mjs?");
  });

  test("a package name resolves from the project's node_modules", async () => {
    const root = project({
      "package.json": JSON.stringify({ name: "p", taskrt: { kinds: ["acme-kinds"] } }),
      "node_modules/acme-kinds/package.json": JSON.stringify({ name: "acme-kinds", type: "module", exports: "./index.js" }),
      "node_modules/acme-kinds/index.js": KIND("acme.thing"),
      "app/_index.yaml": REGISTRY,
    });
    const kinds = await loadKindModules({ registryPath: path.join(root, "app") });
    assert.deepEqual(
      kinds.map((definition) => definition.kind),
      ["acme.thing"],
    );
  });
});
