/** @module bench/lib/options — parses `npm run bench` arguments into the options of one run. */
import path from "node:path";
import { REPO_ROOT } from "./settings.ts";

export const SCENARIOS = ["intake-durable", "intake-memory", "drain", "list-under-load", "startup", "lua"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export type LoadToolName = "wrk" | "autocannon";

export interface BenchOptions {
  quick: boolean;
  /** Scenarios to run, in the order of SCENARIOS. */
  scenarios: ScenarioName[];
  /** Where the Markdown results go. */
  out: string;
  /** Where they go instead when a scenario failed and no --out was given: a broken run never replaces bench/RESULTS.md. */
  outOnFailure: string;
  /** Databases, wrk scripts and CPU profiles of this run. */
  tmpDir: string;
  /** The registry taskrt runs, relative to the repository root. */
  registry: string;
  /** Force a load generator instead of wrk-if-installed. */
  tool: LoadToolName | undefined;
  /** Re-run each taskrt scenario that missed a target under `node --cpu-prof` and summarise it. */
  profileMisses: boolean;
  help: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]

  --quick                  short runs (2 s load, 2,000 drained tasks): a smoke run, not a result
  --only NAME[,NAME…]      run only these scenarios (repeatable): ${SCENARIOS.join(", ")}
  --tool wrk|autocannon    load generator (default: wrk where installed, else autocannon)
  --out PATH               results file (default: bench/RESULTS.md for a full run of every
                           scenario, bench/tmp/RESULTS.partial.md otherwise, and
                           bench/tmp/RESULTS.failed.md when a scenario failed)
  --registry PATH          the registry taskrt runs (default: app/_index.yaml), to measure a variant;
                           it must take the app's -o overrides
  --tmp-dir PATH           scratch folder for databases, scripts, profiles (default: bench/tmp)
  --profile, --no-profile  after the run, profile each taskrt scenario that missed a target
                           (default: on for a full run, off with --quick)
  -h, --help               show this help`;

/** Throws an Error whose message is meant for the person who typed the arguments. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  let quick = false;
  let help = false;
  let out: string | undefined;
  let tmpDir: string | undefined;
  let registry = "app/_index.yaml";
  let tool: LoadToolName | undefined;
  let profile: boolean | undefined;
  const only = new Set<ScenarioName>();

  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    const value = (): string => {
      const next = argv[++index];
      if (next === undefined || next.startsWith("--")) throw new Error(`${argument} needs a value`);
      return next;
    };
    switch (argument) {
      case "--quick":
        quick = true;
        break;
      case "--only":
        for (const name of value().split(",")) only.add(scenarioNamed(name.trim()));
        break;
      case "--tool": {
        const name = value();
        if (name !== "wrk" && name !== "autocannon") throw new Error(`--tool must be wrk or autocannon, got '${name}'`);
        tool = name;
        break;
      }
      case "--out":
        out = path.resolve(value());
        break;
      case "--registry":
        registry = path.relative(REPO_ROOT, path.resolve(value()));
        break;
      case "--tmp-dir":
        tmpDir = path.resolve(value());
        break;
      case "--profile":
        profile = true;
        break;
      case "--no-profile":
        profile = false;
        break;
      case "-h":
      case "--help":
        help = true;
        break;
      default:
        throw new Error(`unknown argument '${argument}' (see --help)`);
    }
  }

  const scenarios = only.size === 0 ? [...SCENARIOS] : SCENARIOS.filter((name) => only.has(name));
  const complete = !quick && only.size === 0 && registry === "app/_index.yaml";
  return {
    quick,
    scenarios,
    // A smoke or partial run must never overwrite the committed results of a full one.
    out: out ?? path.join(REPO_ROOT, "bench", complete ? "RESULTS.md" : "tmp/RESULTS.partial.md"),
    outOnFailure: out ?? path.join(REPO_ROOT, "bench", "tmp", "RESULTS.failed.md"),
    tmpDir: tmpDir ?? path.join(REPO_ROOT, "bench", "tmp"),
    registry,
    tool,
    profileMisses: profile ?? !quick,
    help,
  };
}

function scenarioNamed(name: string): ScenarioName {
  const found = SCENARIOS.find((scenario) => scenario === name);
  if (!found) throw new Error(`unknown scenario '${name}'; scenarios: ${SCENARIOS.join(", ")}`);
  return found;
}
