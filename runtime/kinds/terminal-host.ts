/**
 * @module kinds/terminal-host — `terminal.host`: the terminal a process runs on with `taskrt run
 * -x`: its stdin, stdout and stderr are the process's, through the `io` module. The host holds
 * nothing itself; `run -x` picks it (the only one, or `--host`) and reads `hide_logs`.
 */
import { defineKind } from "../contracts/kind-definition.ts";

export default defineKind({
  kind: "terminal.host",
  summary: "The terminal a process runs on with `taskrt run -x`: the io module's stdin and stdout.",
  references: [],
  service: true,
  create() {
    return { describe: () => "terminal ready" };
  },
});
