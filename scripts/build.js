#!/usr/bin/env node
// `npm run build` (and prepare/prepack): compiles runtime/ and bin/ to dist/ with tsc (JS, source
// maps, declarations), copies the files the code reads beside itself (dashboard assets, the Lua
// prelude), and keeps only the declarations reachable from dist/runtime/index.d.ts, the public API.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIST = path.join(ROOT, "dist");
const require = createRequire(import.meta.url);

rmSync(DIST, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", path.join(ROOT, "tsconfig.build.json")], { stdio: "inherit" });
copyAssets(path.join(ROOT, "runtime"), path.join(DIST, "runtime"));
const kept = pruneDeclarations(path.join(DIST, "runtime", "index.d.ts"));
await writeKindValidators();
const chunks = await bundlePackages();
console.log(`dist/: compiled; ${kept} declaration files make up the public API; packages bundled into ${chunks} chunks`);

/**
 * Node loads a package such as yaml or ajv as dozens of small CommonJS files, which costs more of
 * start-up than the code they run. esbuild rewrites every compiled file in place with the packages
 * it imports bundled into shared chunks (dist/chunks/): taskrt's own modules stay one file each, at
 * the same path (their relative imports and `import.meta.url` keep working), and packages that
 * are native, optional or loaded only when used stay imports.
 */
async function bundlePackages() {
  const esbuild = require("esbuild");
  const KEEP_EXTERNAL = ["better-sqlite3", "pg", "amqplib", "wasmoon", "esbuild", "tsx", "typescript"];
  const entryPoints = listFiles(DIST).filter((file) => file.endsWith(".js") && !file.includes(`${path.sep}dashboard${path.sep}assets${path.sep}`));
  const ownModules = {
    name: "own-modules-stay-files",
    setup(build) {
      // taskrt's relative imports (and the packages above) stay imports; only packages are bundled.
      build.onResolve({ filter: /^\.{1,2}\// }, (args) =>
        args.kind !== "entry-point" && args.importer.startsWith(DIST) ? { path: args.path, external: true } : undefined,
      );
      build.onResolve({ filter: /.*/ }, (args) => {
        const name = args.path.startsWith("@") ? args.path.split("/").slice(0, 2).join("/") : args.path.split("/")[0];
        return KEEP_EXTERNAL.includes(name) ? { path: args.path, external: true } : undefined;
      });
    },
  };
  const result = await esbuild.build({
    entryPoints,
    outdir: DIST,
    outbase: DIST,
    allowOverwrite: true,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: "linked",
    // The maps point at the sources; the package does not carry them (nor the packages' sources) twice.
    sourcesContent: false,
    chunkNames: "chunks/[name]-[hash]",
    // A CommonJS package's require() of a Node built-in, inside an ES module chunk.
    banner: { js: `import { createRequire as __taskrtCreateRequire } from "node:module";\nconst require = __taskrtCreateRequire(import.meta.url);` },
    plugins: [ownModules],
    metafile: true,
    logLevel: "warning",
  });
  // Generated code (the precompiled validators) has no source worth mapping to.
  for (const file of [path.join("runtime", "registry", "kind-validators.js"), ...["plain", "coercing"].map((variant) => path.join("runtime", "http", `meta-schema-${variant}.js`))]) {
    const output = path.join(DIST, file);
    writeFileSync(output, readFileSync(output, "utf8").replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n"));
    rmSync(`${output}.map`);
  }
  return Object.keys(result.metafile.outputs).filter((file) => file.includes("/chunks/") && file.endsWith(".js")).length;
}

/** The built-in kinds' validators and the 2020-12 meta-schema's, compiled now rather than at every start. */
async function writeKindValidators() {
  const { projectSchemas } = await import(pathToFileURL(path.join(DIST, "runtime", "registry", "schemas.js")).href);
  const { writeStandaloneValidators } = await import(pathToFileURL(path.join(DIST, "runtime", "registry", "standalone-validators.js")).href);
  const schemas = projectSchemas();
  writeFileSync(path.join(DIST, "runtime", "registry", "kind-validators.js"), writeStandaloneValidators(schemas, schemas.kinds()));
  const meta = await import(pathToFileURL(path.join(DIST, "runtime", "http", "meta-schema-check.js")).href);
  for (const variant of Object.keys(meta.COMPILE_OPTIONS)) {
    writeFileSync(path.join(DIST, "runtime", "http", meta.standaloneMetaValidatorFile(variant)), meta.writeStandaloneMetaValidator(variant));
  }
}

function listFiles(directory) {
  return readdirSync(directory, { withFileTypes: true }).flatMap((item) => {
    const file = path.join(directory, item.name);
    return item.isDirectory() ? listFiles(file) : [file];
  });
}

function copyAssets(from, to) {
  for (const item of readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, item.name);
    if (item.isDirectory()) copyAssets(source, path.join(to, item.name));
    else if (!item.name.endsWith(".ts")) cpSync(source, path.join(to, item.name));
  }
}

/** Deletes every .d.ts that dist/runtime/index.d.ts does not reach through its imports; returns how many remain. */
function pruneDeclarations(entry) {
  const ts = require("typescript");
  const reachable = new Set();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop();
    if (reachable.has(file)) continue;
    reachable.add(file);
    // tsc keeps the sources' `./x.ts` specifiers in declarations; users' compilers look for `./x.js`.
    const text = readFileSync(file, "utf8").replace(/(from\s+|import\()(["'])(\.{1,2}\/[^"']+)\.ts\2/g, "$1$2$3.js$2");
    writeFileSync(file, text);
    const { importedFiles } = ts.preProcessFile(text, true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const target = path.resolve(path.dirname(file), fileName.replace(/\.js$/, ".d.ts"));
      if (!existsSync(target)) throw new Error(`${path.relative(ROOT, file)} imports ${fileName}, which has no declaration`);
      pending.push(target);
    }
  }
  const remove = (directory) => {
    for (const item of readdirSync(directory, { withFileTypes: true })) {
      const file = path.join(directory, item.name);
      if (item.isDirectory()) remove(file);
      else if (file.endsWith(".d.ts") && !reachable.has(file)) rmSync(file);
    }
  };
  remove(DIST);
  return reachable.size;
}
