/**
 * @module kinds/function-ts — `function.ts`: a TypeScript/JavaScript function called by endpoints and consumers.
 */
import { defineTypeScriptCodeKind } from "../handlers/typescript/code-kind.ts";

export default defineTypeScriptCodeKind("function.ts", "A TypeScript or JavaScript function, called by endpoints and consumers.");
