/**
 * The layout's arrows point down (DESIGN.md): the layers kinds are built from never import the
 * kinds; what both sides name lives in `runtime/contracts/`. Tests and test helpers may import anything.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const RUNTIME = path.dirname(fileURLToPath(import.meta.url));
/** What runs the kinds (and so stands above them): the kinds themselves, the supervisor, the runtime. */
const ABOVE = [path.join(RUNTIME, "kinds") + path.sep, path.join(RUNTIME, "supervisor.ts"), path.join(RUNTIME, "runtime.ts")];
/** Layers the kinds are assembled from: each is imported by some kind, so none may import one back. */
const BELOW_KINDS = ["contracts", "drivers", "modules", "handlers", "http", "queue", "registry", "metrics", "dashboard"];
/** Tests and the helpers beside them (`test-support.ts`, `amqp-test-support.ts`). */
const TEST_ONLY = /(\.test|(^|[-/])test-support)\.ts$/;
/** The shared test support (test/support/: registries from YAML, log capture, waiting) and fixtures. */
const TEST_TREE = path.join(RUNTIME, "..", "test") + path.sep;

interface Import {
  from: string;
  target: string;
  typeOnly: boolean;
}

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true, recursive: true })
    .filter((item) => item.isFile() && item.name.endsWith(".ts"))
    .map((item) => path.join(item.parentPath, item.name));
}

/** Relative imports of a file: static `import`/`export … from`, side-effect imports and `import(…)`. */
function importsOf(file: string): Import[] {
  const source = readFileSync(file, "utf8");
  const found: Import[] = [];
  const add = (specifier: string, typeOnly: boolean) => {
    if (specifier.startsWith(".")) found.push({ from: file, target: path.resolve(path.dirname(file), specifier), typeOnly });
  };
  for (const match of source.matchAll(/^\s*(import|export)(\s+type)?\s[^;]*?\sfrom\s+["']([^"']+)["']/gm)) add(match[3], Boolean(match[2]));
  for (const match of source.matchAll(/^\s*import\s+["']([^"']+)["']/gm)) add(match[1], false);
  for (const match of source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) add(match[1], false);
  return found;
}

const relative = (file: string) => path.relative(RUNTIME, file);
const isTestOnly = (file: string) => TEST_ONLY.test(relative(file)) || file.startsWith(TEST_TREE);
const productionFiles = (layer: string) => sourceFiles(path.join(RUNTIME, layer)).filter((file) => !isTestOnly(file));

test("no layer the kinds are built from imports runtime/kinds/, the supervisor or the runtime", () => {
  const upward = BELOW_KINDS.flatMap(productionFiles)
    .flatMap(importsOf)
    .filter(({ target }) => ABOVE.some((above) => target.startsWith(above)))
    .map(({ from, target }) => `${relative(from)} imports ${relative(target)}`);
  assert.deepEqual(upward, []);
});

test("the contracts load nothing at run time but the error classes", () => {
  const loaded = productionFiles("contracts")
    .flatMap(importsOf)
    .filter(({ typeOnly, target }) => !typeOnly && !target.startsWith(path.join(RUNTIME, "contracts") + path.sep))
    .map(({ from, target }) => `${relative(from)} imports ${relative(target)}`)
    .filter((line) => !line.endsWith(" imports errors.ts"));
  assert.deepEqual(loaded, []);
});

test("test helpers, which may import kinds, are imported by tests only", () => {
  const production = sourceFiles(RUNTIME).filter((file) => !isTestOnly(file));
  const leaks = production
    .flatMap(importsOf)
    .filter(({ target }) => isTestOnly(target))
    .map(({ from, target }) => `${relative(from)} imports ${relative(target)}`);
  assert.deepEqual(leaks, []);
});
