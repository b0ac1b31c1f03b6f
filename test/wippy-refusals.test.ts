import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadRegistry } from "../runtime/registry/load.ts";
import { defineKind } from "../runtime/contracts/kind-definition.ts";
import { createKindTable } from "../runtime/kinds/index.ts";
import { callLua, createTestEngine } from "../runtime/handlers/lua/test-support.ts";
import { checkSnippet } from "./support/registry.ts";
import { validateRegistry } from "../runtime/registry/validate.ts";
import { kindSchemaSet } from "../runtime/registry/kind-schemas.ts";
import { MODULE_NAMES } from "../runtime/modules/context.ts";

const SUPPORTED_KINDS = [...createKindTable().keys()].sort().join(", ");
const SUPPORTED_MODULES = MODULE_NAMES.join(", ");

async function problemsOf(yaml: string, options: Parameters<typeof checkSnippet>[1] = {}) {
  const checked = await checkSnippet(yaml, options);
  checked.remove();
  return checked.problems.filter((problem) => problem.severity === "error");
}

describe("a Wippy kind taskrt does not implement is refused by name", () => {
  test("template.jet: not an unknown kind but an unsupported Wippy kind, listing the kinds taskrt has", async () => {
    const [problem, ...rest] = await problemsOf(`
      - name: email
        kind: template.jet
        source: file://email.jet
        set: app:templates
    `);
    assert.deepEqual(rest, []);
    assert.equal(problem.code, "E_UNSUPPORTED_KIND");
    assert.equal(problem.field, "kind");
    assert.equal(problem.message, `Wippy kind 'template.jet' is not supported by taskrt (supported: ${SUPPORTED_KINDS})`);
    assert.equal(problem.hint, "taskrt does not implement templates; remove the entry, or provide the kind with a kind module (--kinds)");
  });

  test("a hub package dependency names the package that cannot be installed", async () => {
    const [problem] = await problemsOf(`
      - name: llm
        kind: ns.dependency
        component: wippy/llm
        version: ">=0.1.0"
    `);
    assert.equal(problem.code, "E_UNSUPPORTED_KIND");
    assert.match(problem.message, /^Wippy kind 'ns\.dependency' is not supported by taskrt \(supported: /);
    assert.equal(problem.hint, "taskrt does not implement hub packages, so the hub package wippy/llm cannot be installed; remove the entry, or provide the kind with a kind module (--kinds)");
  });

  test("kinds of the LLM, tree-sitter and views families are refused as such", async () => {
    const problems = await problemsOf(`
      - name: gpt
        kind: llm.model
      - name: parser
        kind: treesitter.parser
      - name: home
        kind: view.page
    `);
    assert.deepEqual(
      problems.map((problem) => [problem.code, problem.message.split(" (")[0], problem.hint?.split(";")[0]]),
      [
        ["E_UNSUPPORTED_KIND", "Wippy kind 'llm.model' is not supported by taskrt", "taskrt does not implement LLM models and providers (the wippy/llm hub package)"],
        ["E_UNSUPPORTED_KIND", "Wippy kind 'treesitter.parser' is not supported by taskrt", "taskrt does not implement tree-sitter parsing"],
        ["E_UNSUPPORTED_KIND", "Wippy kind 'view.page' is not supported by taskrt", "taskrt does not implement views and pages (the wippy/views hub package)"],
      ],
    );
  });

  test("the supported list is the live kinds table: a kind module's kinds are in it, and one that provides a Wippy kind makes it supported", async () => {
    const jet = defineKind({ kind: "template.jet", summary: "Jet templates, from a kind module.", references: [], service: false, schema: { type: "object", properties: { source: { type: "string" } } }, create: () => ({}) });
    const extra = defineKind({ kind: "acme.widget", summary: "A widget.", references: [], service: false, schema: { type: "object", properties: {} }, create: () => ({}) });
    const checked = await checkSnippet(`- name: email\n  kind: template.jet\n  source: x\n`);
    checked.remove();
    assert.deepEqual(await validateRegistry(checked.registry, createKindTable([jet]), kindSchemaSet([jet])), []);
    const [problem] = await problemsOf(`- name: sets\n  kind: template.set\n`, { kinds: [extra] });
    assert.equal(problem.message, `Wippy kind 'template.set' is not supported by taskrt (supported: ${[...createKindTable([extra]).keys()].sort().join(", ")})`);
  });

  test("a kind Wippy does not have either is still an unknown kind, with a did-you-mean", async () => {
    const [problem] = await problemsOf(`- name: q\n  kind: queue.driver.memroy\n`);
    assert.equal(problem.code, "E_UNKNOWN_KIND");
    assert.equal(problem.message, 'unknown kind "queue.driver.memroy"');
  });
});

describe("a Wippy Lua module taskrt does not implement is refused by name", () => {
  test("declared in modules: the schema's refusal names it as a Wippy module, with the supported ones", async () => {
    const problems = await problemsOf(
      `
      - name: render
        kind: function.lua
        source: file://render.lua
        method: handler
        modules: [json, templates]
      `,
      { files: { "app/render.lua": "return { handler = function() end }\n" } },
    );
    assert.deepEqual(
      problems.map((problem) => [problem.code, problem.field, problem.message, problem.hint]),
      [["E_UNSUPPORTED_MODULE", "modules[1]", `modules[1]: Wippy module 'templates' is not supported by taskrt (supported: ${SUPPORTED_MODULES})`, "taskrt does not implement templates"]],
    );
  });

  test("required by the source: refused when the entry loads (validate and run), at the require's line and column", async () => {
    const problems = await problemsOf(
      `
      - name: parse
        kind: function.lua
        source: file://parse.lua
        method: handler
        modules: [json]
      `,
      { files: { "app/parse.lua": 'local json = require("json")\n\nlocal function handler(code: string)\n    local ts = require("treesitter")\n    return ts.parse("lua", code)\nend\n\nreturn { handler = handler }\n' } },
    );
    assert.deepEqual(
      problems.map((problem) => [problem.code, problem.field, problem.message]),
      [["E_UNSUPPORTED_MODULE", "source", `app/parse.lua:4:16: require("treesitter"): Wippy module 'treesitter' is not supported by taskrt (supported: ${SUPPORTED_MODULES})`]],
    );
  });

  test("required under a computed name: the call fails saying so, not with a nil index", async () => {
    const engine = await createTestEngine(`return { handler = function(name) local m = require(name) return m.render() end }`);
    try {
      const result = await callLua(engine, "handler", ["templates"]);
      assert.match(String((result as { error: Error }).error.message), new RegExp(`Wippy module 'templates' is not supported by taskrt \\(supported: ${SUPPORTED_MODULES}\\)`));
    } finally {
      engine.close();
    }
  });

  test("imports cannot be honoured (no library.lua): refused at the imports field, naming each", async () => {
    const problems = await problemsOf(
      `
      - name: handler
        kind: function.lua
        source: file://handler.lua
        method: handler
        imports:
          utils: app.lib:helpers
      `,
      { files: { "app/handler.lua": 'local utils = require("utils")\nreturn { handler = function() return utils.x end }\n' } },
    );
    assert.deepEqual(
      problems.map((problem) => [problem.code, problem.field, problem.message]),
      [["E_UNSUPPORTED_MODULE", "imports", 'imports cannot be honoured by taskrt: it does not load library.lua entries, so require("utils") of app.lib:helpers would fail']],
    );
  });
});

describe("taskrt run refuses a registry with an unsupported Wippy kind", () => {
  test("exits 1 naming the kind, before starting anything", async () => {
    const checked = await checkSnippet(`
      - name: templates
        kind: template.set
    `);
    try {
      const child = spawn(process.execPath, [path.resolve("bin/taskrt.js"), "run", "."], { cwd: checked.registry.root, env: { ...process.env, NO_COLOR: "1" } });
      let output = "";
      child.stdout.on("data", (chunk) => (output += chunk));
      child.stderr.on("data", (chunk) => (output += chunk));
      const [code] = await once(child, "exit");
      assert.equal(code, 1, output);
      assert.match(output, /app\/_index\.yaml:5:5: error E_UNSUPPORTED_KIND \[app:templates\] Wippy kind 'template\.set' is not supported by taskrt \(supported: /);
    } finally {
      checked.remove();
    }
  });
});

describe("hub modules listed in wippy.lock", () => {
  test("each is a warning at its line in the lock: taskrt loads no hub modules", async () => {
    const project = mkdtempSync(path.join(tmpdir(), "taskrt-hub-"));
    try {
      writeFileSync(path.join(project, "wippy.lock"), "directories:\n  modules: .wippy\n  src: ./src\nmodules:\n  - name: wippy/llm\n    version: v0.4.1\n  - name: wippy/agent\n    version: v0.2.0\n");
      mkdirSync(path.join(project, "src"));
      writeFileSync(path.join(project, "src/_index.yaml"), "version: \"1.0\"\nnamespace: app\nentries: []\n");
      const { problems } = await loadRegistry(project);
      assert.deepEqual(
        problems.map((problem) => [problem.code, problem.severity, problem.location?.line, problem.message]),
        [
          ["W_HUB_MODULE", "warning", 5, "hub module wippy/llm is not supported by taskrt: it installs and loads no hub modules, so the entries wippy/llm provides do not exist here"],
          ["W_HUB_MODULE", "warning", 7, "hub module wippy/agent is not supported by taskrt: it installs and loads no hub modules, so the entries wippy/agent provides do not exist here"],
        ],
      );
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
