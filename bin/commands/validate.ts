/**
 * @module bin/commands/validate — `taskrt validate PATH`: every problem as `file:line:col` lines
 * (or JSON), quiet on success unless `--verbose`, exit 1 on any error.
 */
import { formatProblem } from "../../runtime/errors.ts";
import { checkRegistry } from "../../runtime/runtime.ts";
import { flagValue, flagValues } from "../args.ts";
import { problemCounts, relativePath } from "../output.ts";
import { KINDS_FLAG, OVERRIDE_FLAG, STRICT_FLAG, projectKinds, registryPath, type Command } from "./command.ts";

export const validateCommand: Command = {
  name: "validate",
  usage: "validate PATH [--format text|json]",
  description: "check a registry; exit 1 on any error",
  flags: [
    OVERRIDE_FLAG,
    STRICT_FLAG,
    KINDS_FLAG,
    { name: "format", choices: ["text", "json"], description: "problems for people (default) or as JSON" },
    { name: "verbose", description: "say so when there is nothing to report" },
  ],
  async run(args, io) {
    const { target } = registryPath(args, "validate");
    const { registry, problems } = await checkRegistry({
      path: target,
      overrides: flagValues(args, "override"),
      kinds: await projectKinds(args, target),
      strict: args.flags.has("strict"),
    });
    const errors = problems.filter((problem) => problem.severity === "error").length;
    if (flagValue(args, "format") === "json") {
      io.stdout(JSON.stringify({ ok: errors === 0, entries: registry.entries.length, problems }, null, 2) + "\n");
    } else {
      for (const problem of problems) io.stdout(formatProblem(problem, relativePath) + "\n");
      const entries = registry.entries.length;
      if (problems.length || args.flags.has("verbose")) io.stdout(`${entries} entr${entries === 1 ? "y" : "ies"}: ${problemCounts(problems)}\n`);
    }
    return errors ? 1 : 0;
  },
};
