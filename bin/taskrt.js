#!/usr/bin/env node
// Registers tsx (so the runtime and TypeScript handlers load as they are), then runs the CLI.
import { register } from "tsx/esm/api";

register();
const { main } = await import("./taskrt.ts");
process.exitCode = await main(process.argv.slice(2));
