/**
 * @module handlers/typescript/code-kind — the shared definition of `function.ts` and `process.ts`:
 * both load a module at start and offer a Callable; they differ only in who calls them.
 */
import { PROBLEM_CODES, TaskrtError, errorMessage, type Problem } from "../../errors.ts";
import { defineKind, type KindDefinition } from "../../contracts/kind-definition.ts";
import type { Entry } from "../../registry/entry.ts";
import { createEntryCallContext } from "../call-context.ts";
import type { Callable, CallableComponent } from "../handler.ts";
import { createTypeScriptCallable } from "./callable.ts";
import { MODULE_NAMES } from "../../modules/context.ts";
import { HandlerSourceError, analyseHandlerSource, type HandlerSource, type ModuleImport } from "../../registry/handler-source.ts";
import { existingSourceFile, loadHandlerFunction, typeScriptSourceFile } from "./load.ts";

export function defineTypeScriptCodeKind(kind: string, summary: string): KindDefinition {
  return defineKind({
    kind,
    summary,
    references: [],
    service: false,
    check: checkSource,
    create(entry, context) {
      const base = createEntryCallContext(entry, context);
      let loaded: Callable | undefined;
      const component: CallableComponent & { start(): Promise<void> } = {
        async start() {
          loaded ??= createTypeScriptCallable(base, await loadHandlerFunction(entry));
        },
        callable() {
          if (!loaded) throw new TaskrtError("E_NOT_STARTED", `${entry.id} was called before its code was loaded`, { entryId: entry.id });
          return loaded;
        },
      };
      return component;
    },
  });
}

/**
 * The source exists, parses, exports `method` and imports only the declared taskrt modules — read
 * statically: validation never runs handler code.
 */
async function checkSource(entry: Entry): Promise<Problem[]> {
  const at = entry.locate(["source"]);
  const located = { severity: "error" as const, entryId: entry.id };
  const declared = new Set(Array.isArray(entry.data.modules) ? (entry.data.modules as string[]) : []);
  let source: HandlerSource;
  let undeclared: ModuleImport[];
  try {
    ({ source, undeclared } = await analyseHandlerSource(existingSourceFile(entry), MODULE_NAMES, declared, String(entry.data.method)));
  } catch (error) {
    if (error instanceof HandlerSourceError) {
      return [{ code: PROBLEM_CODES.SOURCE_INVALID, ...located, field: "source", location: error.location ?? at, message: `cannot load ${typeScriptSourceFile(entry)}: ${error.message}` }];
    }
    const code = error instanceof TaskrtError && error.code === "E_SOURCE_MISSING" ? PROBLEM_CODES.SOURCE_MISSING : PROBLEM_CODES.SOURCE_INVALID;
    return [{ code, ...located, field: "source", location: at, message: errorMessage(error).replace(`${entry.id}: `, "") }];
  }
  const problems: Problem[] = [];
  const method = String(entry.data.method);
  const named = source.exports.filter((name) => name !== "default");
  // The properties of a default export are known only once it runs: start checks those.
  if (!named.includes(method) && !source.exports.includes("default")) {
    problems.push({
      code: PROBLEM_CODES.METHOD_MISSING,
      ...located,
      field: "method",
      location: entry.locate(["method"]),
      message: `method '${method}' is not exported by ${entry.data.source}`,
      hint: named.length ? `the module exports: ${named.join(", ")}` : "the module exports nothing",
    });
  }
  // Each hint gives the whole list to write: every module the handler uses, once.
  const needed = [...new Set([...declared, ...undeclared.map((use) => use.module)])].join(", ");
  for (const use of undeclared) {
    problems.push({
      code: PROBLEM_CODES.MODULE_NOT_DECLARED,
      ...located,
      field: "modules",
      location: use.location,
      message: `${entry.id} uses module '${use.module}' but its modules do not declare it (a call would fail)`,
      hint: `add ${use.module} to ${entry.id}'s modules: [${needed}]`,
    });
  }
  return problems;
}
