/**
 * @module kind-modules — loads the kinds a project plugs in from outside taskrt: the modules its
 * package.json lists under `"taskrt": { "kinds": [...] }`, then those given with `--kinds`; each
 * default export is a `defineKind` result or a list of them. Every definition is checked (shape,
 * name, schema) before a registry file is read.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { KindDefinition } from "./contracts/kind-definition.ts";
import { errorMessage, TaskrtError } from "./errors.ts";
import { readKindDefinitions } from "./kind-definition-check.ts";
import { compileTypeScriptModule, isTypeScriptSource } from "./handlers/typescript/typescript-loader.ts";
import { BUILTIN_KINDS } from "./kinds/index.ts";
import { enclosingPackage, exists, registryDirectory } from "./registry/boundary.ts";
import { kindSchemaSet } from "./registry/kind-schemas.ts";
import { describe } from "./registry/load.ts";
import { buildManifestSchema } from "./registry/manifest-schema.ts";
import type { SchemaSet } from "./registry/schemas.ts";

export interface KindModuleOptions {
  /** The registry path, as given to `run`: the nearest package.json from its directory may list kind modules. */
  registryPath: string;
  /** `--kinds` values: paths (`./kinds/x.ts`) relative to `cwd`, or package names resolved from the project. */
  modules?: readonly string[];
  cwd?: string;
}

/** One module to load: as written, the directory it is relative to, and how messages name it. */
interface KindModuleRequest {
  specifier: string;
  base: string;
  origin: string;
}

/** The kinds of every listed module, in order; a kind module listed twice loads once. */
export async function loadKindModules(options: KindModuleOptions): Promise<KindDefinition[]> {
  const cwd = options.cwd ?? process.cwd();
  const project = await enclosingPackage(await registryDirectory(resolve(cwd, options.registryPath)));
  const requests = [
    ...(project ? await listedKindModules(join(project, "package.json")) : []),
    ...(options.modules ?? []).map((specifier) => ({ specifier, base: isPath(specifier) ? cwd : (project ?? cwd), origin: specifier })),
  ];
  const definedBy = new Map<string, string>();
  const seen = new Set<string>();
  const definitions: KindDefinition[] = [];
  for (const request of requests) {
    const file = await resolveKindModule(request);
    if (seen.has(file)) continue;
    seen.add(file);
    for (const definition of readKindDefinitions(await importKindModule(file, request.origin), request.origin)) {
      checkKind(definition, request.origin, definedBy);
      definedBy.set(definition.kind, request.origin);
      definitions.push(definition);
    }
  }
  try {
    buildManifestSchema(kindSchemaSet(definitions).schemas);
  } catch (error) {
    throw new TaskrtError("E_KIND_MODULE", `the kind modules' schemas cannot join the editors' schema together: ${errorMessage(error)}`, { hint: "give each kind's definitions names of their own" });
  }
  return definitions;
}

const BUILTIN = new Set(BUILTIN_KINDS.map((definition) => definition.kind));

/** Refuses a kind whose name is taken, or whose schema Ajv or the editors' schema cannot take. */
function checkKind(definition: KindDefinition, origin: string, definedBy: ReadonlyMap<string, string>): void {
  const fail = (message: string, hint: string): never => {
    throw new TaskrtError("E_KIND_MODULE", `kind module ${origin}: ${message}`, { hint });
  };
  const { kind } = definition;
  if (BUILTIN.has(kind)) fail(`kind ${kind} is built into taskrt`, "give your kind a name of its own, such as one starting with your project's name");
  const earlier = definedBy.get(kind);
  if (earlier) fail(`kind ${kind} is already defined by kind module ${earlier}`, "load one of the two modules, or rename one kind");
  let schemas: SchemaSet;
  try {
    schemas = kindSchemaSet([definition]);
    schemas.validator(kind);
  } catch (error) {
    return fail(`the schema of ${kind} is not a valid JSON Schema: ${errorMessage(error)}`, "taskrt checks schemas with Ajv in strict mode (draft-07 keywords, plus filePath and maxMilliseconds)");
  }
  try {
    buildManifestSchema(schemas.schemas);
  } catch (error) {
    fail(`the schema of ${kind} cannot join the editors' schema: ${errorMessage(error)}`, "name its definitions apart from taskrt's, and $ref only within it or lifecycle.json");
  }
}

/** `"taskrt": { "kinds": [...] }` of the project's package.json, relative to it. */
async function listedKindModules(packageFile: string): Promise<KindModuleRequest[]> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(packageFile, "utf8"));
  } catch (error) {
    throw new TaskrtError("E_KIND_MODULE", `cannot read ${packageFile} for its "taskrt" settings: ${errorMessage(error)}`, { cause: error });
  }
  const settings = (manifest as { taskrt?: unknown } | null)?.taskrt;
  if (settings === undefined) return [];
  const kinds = (settings as { kinds?: unknown } | null)?.kinds;
  if (typeof settings !== "object" || settings === null || Array.isArray(settings) || (kinds !== undefined && !(Array.isArray(kinds) && kinds.every((item) => typeof item === "string" && item !== "")))) {
    const found = typeof settings === "object" && settings !== null && !Array.isArray(settings) ? `"kinds": ${describe(kinds)}` : `"taskrt": ${describe(settings)}`;
    throw new TaskrtError("E_KIND_MODULE", `${packageFile}: "taskrt" must be { "kinds": [module paths or package names] }, found ${found}`, {
      hint: 'for example "taskrt": { "kinds": ["./kinds/static-files.ts", "taskrt-kind-redis"] }',
    });
  }
  const project = resolve(packageFile, "..");
  return ((kinds ?? []) as string[]).map((specifier) => ({ specifier, base: project, origin: `${specifier} (listed in ${packageFile})` }));
}

/** `./x`, `../x` and absolute paths are files; anything else names a package. */
function isPath(specifier: string): boolean {
  return specifier.startsWith("./") || specifier.startsWith("../") || specifier === "." || isAbsolute(specifier);
}

async function resolveKindModule({ specifier, base, origin }: KindModuleRequest): Promise<string> {
  if (isPath(specifier)) {
    const file = resolve(base, specifier);
    if (!(await exists(file))) throw new TaskrtError("E_KIND_MODULE", `kind module ${origin}: ${file} does not exist`);
    return file;
  }
  try {
    return createRequire(join(base, "package.json")).resolve(specifier);
  } catch (error) {
    const file = resolve(base, specifier);
    const hint = (await exists(file)) ? `a path is written with ./ — did you mean ./${specifier}?` : `install the package in ${base}, or give a path (./kinds/my-kind.ts)`;
    throw new TaskrtError("E_KIND_MODULE", `kind module ${origin}: no package ${specifier} can be loaded from ${base}: ${errorMessage(error).split("\n")[0]}`, { hint, cause: error });
  }
}

/**
 * Imports a kind module as user TypeScript handlers are imported (compiled by esbuild, `taskrt`
 * bound to this runtime), kept to this one call so a change in how TypeScript loads lands here.
 */
async function importKindModule(file: string, origin: string): Promise<Record<string, unknown>> {
  try {
    return (await import(isTypeScriptSource(file) ? await compileTypeScriptModule(file) : pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new TaskrtError("E_KIND_MODULE", `kind module ${origin}: cannot load ${file}: ${errorMessage(error)}`, { cause: error });
  }
}
