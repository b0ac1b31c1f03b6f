#!/usr/bin/env node
/**
 * @module bin/taskrt — the installed command (`dist/bin/taskrt.js`): runs the CLI with this
 * process's arguments. This process is the server under `taskrt run`, so signals sent to its PID
 * reach the graceful shutdown directly.
 */
import { main } from "./main.ts";

process.exitCode = await main(process.argv.slice(2));
