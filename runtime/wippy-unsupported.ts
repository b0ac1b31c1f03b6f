/**
 * @module wippy-unsupported — the Wippy entry kinds and Lua modules taskrt knows of but does not
 * implement, each with what it is, so they are refused by name instead of as unknown. Data only:
 * whether a name is supported is decided by the live kinds table and module library, so a name
 * listed here that taskrt (or a kind module) comes to implement is simply supported.
 */

/** Wippy's entry kinds (docs: guides/entry-kinds.md), by what they provide. */
const KINDS: Record<string, readonly string[]> = {
  "Lua libraries, workflows and bytecode": ["library.lua", "module.lua", "workflow.lua", "function.lua.bc", "library.lua.bc", "process.lua.bc", "workflow.lua.bc"],
  "static file serving": ["http.static"],
  "MySQL databases": ["db.sql.mysql"],
  "change data capture": ["db.cdc.postgres"],
  "key-value stores": ["store.memory", "store.sql", "store.kv.raft", "store.kv.crdt"],
  "the AWS SQS queue driver": ["queue.driver.sqs"],
  "process groups": ["pg.scope"],
  "Temporal workflows": ["temporal.client", "temporal.worker"],
  "cloud storage": ["config.aws", "cloudstorage.s3"],
  "file systems": ["fs.directory", "fs.embed"],
  "templates": ["template.set", "template.jet"],
  "security policies": ["security.policy", "security.policy.expr", "security.token_store"],
  "contracts": ["contract.definition", "contract.binding"],
  "command execution": ["exec.native", "exec.docker"],
  "WebAssembly": ["function.wat", "function.wasm", "process.wasm"],
  "network overlays": ["network", "network.socks5", "network.i2p", "network.tailscale"],
  "namespace requirements": ["ns.requirement"],
  "hub packages": ["ns.dependency"],
};

/** Kind families of Wippy's hub packages (wippy/llm, wippy/agent, …) and runtime plug-ins. */
const KIND_PREFIXES: Record<string, string> = {
  "llm.": "LLM models and providers (the wippy/llm hub package)",
  "agent.": "agents (the wippy/agent hub package)",
  "view.": "views and pages (the wippy/views hub package)",
  "treesitter.": "tree-sitter parsing",
  "tree-sitter.": "tree-sitter parsing",
};

/** Wippy's Lua modules (runtime/lua/modules), by what they provide. */
const MODULES: Record<string, readonly string[]> = {
  "terminal user interfaces": ["tty", "btea"],
  "templates": ["templates"],
  "tree-sitter parsing": ["treesitter"],
  "the HTTP client": ["http_client"],
  "WebSockets": ["websocket"],
  "HTML sanitising": ["html"],
  "key-value stores": ["store"],
  "file systems": ["fs"],
  "cloud storage": ["cloudstorage"],
  "encodings and formats": ["base64", "yaml", "toml", "excel", "compress", "archive", "text"],
  "cryptography and hashing": ["crypto", "hash"],
  "security and policies": ["security"],
  "contracts": ["contract"],
  "command execution": ["exec"],
  "expressions and code evaluation": ["expr", "eval_runner"],
  "metrics and system information": ["metrics", "system"],
  "contexts, streams, futures and payloads": ["ctx", "stream", "future", "payload"],
  "the hub": ["hub"],
  "LLM calls, agents and views (hub packages, reached through imports)": ["llm", "agent", "views"],
};

function byName(groups: Record<string, readonly string[]>): ReadonlyMap<string, string> {
  return new Map(Object.entries(groups).flatMap(([what, names]) => names.map((name) => [name, what] as const)));
}

const KIND_AREAS = byName(KINDS);
const MODULE_AREAS = byName(MODULES);

/** What a Wippy kind taskrt does not implement provides (`templates`), or undefined for a kind Wippy does not have. */
export function wippyKindArea(kind: string): string | undefined {
  return KIND_AREAS.get(kind) ?? Object.entries(KIND_PREFIXES).find(([prefix]) => kind.startsWith(prefix))?.[1];
}

/** What a Wippy Lua module provides (`templates`), or undefined for a name Wippy does not have. */
export function wippyModuleArea(name: string): string | undefined {
  return MODULE_AREAS.get(name);
}
