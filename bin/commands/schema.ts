/**
 * @module bin/commands/schema — `taskrt schema [PATH]`: the JSON Schema editors check registry files
 * against, with the project's own kinds (package.json's and `--kinds`) beside the built-in ones.
 */
import { buildManifestSchema } from "../../runtime/registry/manifest-schema.ts";
import { kindSchemaSet } from "../../runtime/registry/kind-schemas.ts";
import { KINDS_FLAG, positionals, projectKinds, type Command } from "./command.ts";

export const schemaCommand: Command = {
  name: "schema",
  usage: "schema [PATH] [--kinds module]…",
  description: "print the registry files' JSON Schema, with the project's kinds, for editors",
  flags: [KINDS_FLAG],
  async run(args, io) {
    const [target = "."] = positionals(args, "schema", 0, 1, "at most one PATH (default: the current directory)");
    const schemas = kindSchemaSet(await projectKinds(args, target));
    io.stdout(`${JSON.stringify(buildManifestSchema(schemas.schemas), null, 2)}\n`);
    return 0;
  },
};
