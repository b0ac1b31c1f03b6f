/**
 * @module bin/commands/kinds — `taskrt kinds [PATH]`: every kind the registry may use, the project's
 * own (package.json's and `--kinds`) beside the built-in ones, with each field's type, default and limits.
 */
import { renderKindsTable } from "../../runtime/registry/kinds-table.ts";
import { kindSchemaSet } from "../../runtime/registry/kind-schemas.ts";
import { KINDS_FLAG, positionals, projectKinds, type Command } from "./command.ts";

export const kindsCommand: Command = {
  name: "kinds",
  usage: "kinds [PATH] [--kinds module]…",
  description: "list every kind with its fields, defaults and limits (Markdown)",
  flags: [KINDS_FLAG],
  async run(args, io) {
    const [target = "."] = positionals(args, "kinds", 0, 1, "at most one PATH (default: the current directory)");
    io.stdout(renderKindsTable(kindSchemaSet(await projectKinds(args, target))));
    return 0;
  },
};
