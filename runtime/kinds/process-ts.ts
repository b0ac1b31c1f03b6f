/**
 * @module kinds/process-ts — `process.ts`: a TypeScript/JavaScript process, run by a `process.service`.
 */
import { defineTypeScriptCodeKind } from "../handlers/typescript/code-kind.ts";

export default defineTypeScriptCodeKind("process.ts", "A TypeScript or JavaScript process, run by a process.service.");
