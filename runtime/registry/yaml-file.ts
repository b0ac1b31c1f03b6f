/**
 * @module registry/yaml-file — reads one YAML file with the positions of its nodes: regular files
 * only, merge keys (`<<: *base`) applied, alias expansion bounded; every problem located.
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { isPair, isScalar, LineCounter, parseDocument, visit, type Document, type Node } from "yaml";
import { errorMessage, PROBLEM_CODES, type Problem, type SourceLocation } from "../errors.ts";
import { fileType } from "./boundary.ts";

/**
 * How many nodes aliases may expand to, counted as the `yaml` package does (uses of an anchor times
 * the aliases inside it): reusing a plain anchor is free, nesting aliases of aliases (a "billion
 * laughs" file) is refused before it eats the memory.
 */
export const MAX_ALIAS_COUNT = 100;

/**
 * Reads and parses one YAML file, keeping positions, merge keys (`<<: *base`) applied; read and
 * syntax errors (all of them) become problems, and so does an alias expansion past MAX_ALIAS_COUNT.
 */
export async function readYaml(file: string, problems: Problem[]): Promise<{ document: Document; lineCounter: LineCounter; value: unknown } | undefined> {
  const text = await readRegularFile(file, problems);
  if (text === undefined) return undefined;
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, merge: true });
  const at = (offset: number | undefined): SourceLocation => {
    const { line, col } = lineCounter.linePos(offset ?? 0);
    return { file, line: Math.max(line, 1), column: col };
  };
  if (document.errors.length > 0) {
    for (const error of document.errors) problems.push({ code: PROBLEM_CODES.YAML, severity: "error", location: at(error.pos[0]), message: `YAML syntax: ${error.message}` });
    return undefined;
  }
  try {
    return { document, lineCounter, value: document.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown };
  } catch (error) {
    // The yaml package throws without a position: point at the first alias or merge key, whichever the error is about.
    const aliases = /alias count/i.test(errorMessage(error));
    const message = aliases
      ? `YAML aliases expand to more than ${MAX_ALIAS_COUNT} nodes (nested aliases of aliases): refused, as such a file can exhaust memory`
      : `YAML: ${errorMessage(error)}`;
    const hint = aliases ? "write the repeated values out, or alias the data itself rather than lists of aliases" : "a merge key takes a map or a list of maps: <<: *base";
    problems.push({ code: PROBLEM_CODES.YAML, severity: "error", location: at(firstNode(document, aliases ? "alias" : "merge")), message, hint });
    return undefined;
  }
}

/** Offset of the first alias, or of the first `<<` merge key, in document order. */
function firstNode(document: Document, what: "alias" | "merge"): number | undefined {
  let offset: number | undefined;
  visit(document, {
    Alias(_key, node) {
      if (what !== "alias") return undefined;
      offset = node.range?.[0];
      return visit.BREAK;
    },
    Pair(_key, pair) {
      if (what !== "merge" || !isPair(pair) || !isMergeKey(pair.key)) return undefined;
      offset = (pair.key as Node).range?.[0];
      return visit.BREAK;
    },
  });
  return offset;
}

/**
 * A file's text, refusing anything but a regular file: opening a FIFO would wait for a writer and
 * reading a device may never end. Opened non-blocking and checked on the open handle, so the check
 * and the read see the same file.
 */
async function readRegularFile(file: string, problems: Problem[]): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    problems.push(fileProblem(`cannot read ${file}: ${readError(error)}`));
    return undefined;
  }
  try {
    const type = fileType(await handle.stat());
    if (type !== "a regular file") {
      problems.push({
        ...fileProblem(`cannot read ${file}: it is ${type}, not a regular file`, "registry files are plain .yaml/.yml files"),
        location: { file, line: 1, column: 1 },
      });
      return undefined;
    }
    return await handle.readFile("utf8");
  } catch (error) {
    problems.push(fileProblem(`cannot read ${file}: ${readError(error)}`));
    return undefined;
  } finally {
    await handle.close();
  }
}

export function readError(error: unknown): string {
  return (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : errorMessage(error);
}

export function fileProblem(message: string, hint?: string): Problem {
  return { code: PROBLEM_CODES.FILE, severity: "error", message, hint };
}

/** A `<<` key: with merge keys on, the yaml package reads it as a Symbol. */
export function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  const value = key.value;
  return typeof value === "symbol" ? value.description === "<<" : value === "<<";
}
