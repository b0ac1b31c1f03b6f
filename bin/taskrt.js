#!/usr/bin/env node
// The CLI run from this repository's TypeScript sources (tests, development): registers tsx, and
// adds the `taskrt-source` export condition so handlers importing "taskrt" get these same sources
// (one copy of the runtime in the process), then runs bin/taskrt.ts. The installed command is the
// compiled dist/bin/taskrt.js, which needs neither.
import { register } from "node:module";
import { register as registerTsxRequire } from "tsx/cjs/api";
import { register as registerTsxImport } from "tsx/esm/api";

register("./source-condition-hooks.js", import.meta.url);
registerTsxImport();
registerTsxRequire();
await import("./taskrt.ts");
