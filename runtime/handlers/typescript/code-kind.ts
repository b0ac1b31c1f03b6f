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
import { exportedFunctions, importHandlerModule, loadHandlerFunction } from "./load.ts";

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

async function checkSource(entry: Entry): Promise<Problem[]> {
  const at = entry.locate(["source"]);
  try {
    const functions = exportedFunctions(await importHandlerModule(entry));
    const method = String(entry.data.method);
    if (functions[method]) return [];
    const names = Object.keys(functions);
    return [
      {
        code: PROBLEM_CODES.METHOD_MISSING,
        severity: "error",
        entryId: entry.id,
        field: "method",
        location: entry.locate(["method"]),
        message: `method '${method}' is not exported by ${entry.data.source}`,
        hint: names.length ? `exported functions: ${names.join(", ")}` : "the module exports no functions",
      },
    ];
  } catch (error) {
    const code = error instanceof TaskrtError && error.code === "E_SOURCE_MISSING" ? PROBLEM_CODES.SOURCE_MISSING : PROBLEM_CODES.SOURCE_INVALID;
    return [{ code, severity: "error", entryId: entry.id, field: "source", location: at, message: errorMessage(error).replace(`${entry.id}: `, "") }];
  }
}
