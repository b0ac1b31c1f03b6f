/**
 * TypeScript handlers load whatever their folder's package.json says about module type — none at
 * all, "module", or "commonjs" (what `npm init -y` writes) — and as `.ts`, `.mts` and `.cts`, each
 * importing the same `taskrt` the runtime runs on (so the call context they read is the runtime's).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startChildApp, type ChildApp } from "./support/child-app.ts";

const REPOSITORY = fileURLToPath(new URL("..", import.meta.url));

/** Handler files by path, and the package type of the folder each sits in. */
const HANDLERS = [
  { file: "plain.ts", packageType: "none" },
  { file: "plain.mts", packageType: "none" },
  { file: "plain.cts", packageType: "none" },
  { file: "module/module.ts", packageType: "module" },
  { file: "module/module.cts", packageType: "module" },
  { file: "commonjs/commonjs.ts", packageType: "commonjs" },
  { file: "commonjs/commonjs.mts", packageType: "commonjs" },
];

const HANDLER_SOURCE = `import { http } from "taskrt";

export function handler(): void {
  const name: string = http.request().param("name") ?? "";
  http.response().writeJson({ hello: name, from: __FILE__ });
}
`;

let project: string;
let app: ChildApp | undefined;

before(async () => {
  // Under the system's temporary folder: no package.json above it says anything about module type.
  project = mkdtempSync(path.join(tmpdir(), "taskrt-package-types-"));
  mkdirSync(path.join(project, "node_modules"));
  symlinkSync(REPOSITORY, path.join(project, "node_modules", "taskrt"));
  for (const type of ["module", "commonjs"]) {
    mkdirSync(path.join(project, type));
    writeFileSync(path.join(project, type, "package.json"), JSON.stringify({ type }));
  }
  const entries = [
    "  - name: gateway\n    kind: http.service\n    addr: 127.0.0.1:0\n    lifecycle:\n      auto_start: true",
    "  - name: router\n    kind: http.router\n    meta:\n      server: demo:gateway",
  ];
  HANDLERS.forEach(({ file }, index) => {
    writeFileSync(path.join(project, file), HANDLER_SOURCE.replace("__FILE__", JSON.stringify(file)));
    entries.push(
      // Seven TypeScript handlers compile at start: on a saturated machine that outlasts the default start_timeout.
      `  - name: hello${index}\n    kind: function.ts\n    source: file://${file}\n    method: handler\n    modules: [http]\n    lifecycle:\n      start_timeout: 120s`,
      `  - name: hello${index}.endpoint\n    kind: http.endpoint\n    meta:\n      router: demo:router\n    method: GET\n    path: /hello${index}/{name}\n    func: demo:hello${index}`,
    );
  });
  writeFileSync(path.join(project, "_index.yaml"), `version: "1.0"\nnamespace: demo\n\nentries:\n${entries.join("\n\n")}\n`);
  app = await startChildApp({ registry: path.join(project, "_index.yaml"), gateway: "demo:gateway" });
});

after(async () => {
  await app?.terminate();
  rmSync(project, { recursive: true, force: true });
});

for (const [index, { file, packageType }] of HANDLERS.entries()) {
  test(`a ${path.extname(file)} handler in a folder whose package type is ${packageType} loads and reads its call`, async () => {
    const response = await fetch(`${app!.url}/hello${index}/ada`);
    assert.equal(response.status, 200, await response.clone().text());
    assert.deepEqual(await response.json(), { hello: "ada", from: file });
  });
}
