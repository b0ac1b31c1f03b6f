/**
 * @module static-files — the `static.files` kind, from outside taskrt: serves the files of a directory
 * on an http.router. Paths are resolved safely: a request can reach only files whose real path (links
 * followed) lies inside the directory; anything else, and anything missing, is a 404.
 */
import { realpath, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { defineKind, serveRoute, type Entry, type Problem } from "taskrt";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".wasm": "application/wasm",
  ".woff2": "font/woff2",
};

/** The directory an entry serves: `root`, relative to the YAML file that declares the entry. */
function rootOf(entry: Entry): string {
  return path.resolve(path.dirname(entry.file), entry.data.root as string);
}

function inside(directory: string, file: string): boolean {
  const relative = path.relative(directory, file);
  return relative === "" || (!relative.startsWith(`..${path.sep}`) && relative !== ".." && !path.isAbsolute(relative));
}

/** The real path of the file a request names, or undefined when it is missing or would leave the root. */
async function findFile(root: string, requested: string, index: string): Promise<string | undefined> {
  if (requested.includes("\0")) return undefined;
  const candidate = path.join(root, requested);
  if (!inside(root, candidate)) return undefined;
  try {
    let real = await realpath(candidate);
    if ((await stat(real)).isDirectory()) real = await realpath(path.join(real, index));
    return inside(root, real) && (await stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

const notFound = (): Response => new Response("not found\n", { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });

export default defineKind({
  kind: "static.files",
  summary: "Serves the files of a directory on an http.router.",
  schema: {
    description: "Serves the files of a directory on a router: a file by its path, a directory by its index file, 404 for anything else; nothing outside the directory, even through a link.",
    properties: {
      meta: {
        type: "object",
        properties: { router: { type: "string", minLength: 1, description: "The http.router the files are served on." } },
        required: ["router"],
      },
      root: { type: "string", minLength: 1, description: "The directory to serve, relative to this YAML file." },
      path: { type: "string", pattern: "^/", default: "/", description: "Where the files appear, after the router's prefix." },
      index: { type: "string", minLength: 1, pattern: "^[^/]+$", default: "index.html", description: "The file served for a directory." },
      cache_control: { type: "string", default: "no-cache", description: "The Cache-Control header of every file." },
    },
    required: ["root"],
  },
  references: [{ path: ["meta", "router"], kinds: ["http.router"] }],
  service: false,
  async check(entry): Promise<Problem[]> {
    const root = rootOf(entry);
    const stats = await stat(root).catch(() => undefined);
    if (stats?.isDirectory()) return [];
    return [
      {
        code: "E_FILE",
        severity: "error",
        entryId: entry.id,
        field: "root",
        location: entry.locate(["root"]),
        message: `root: ${root} ${stats ? "is not a directory" : "does not exist"}`,
        hint: "root names the directory to serve, relative to this YAML file",
      },
    ];
  },
  create(entry, context) {
    const index = entry.data.index as string;
    const cacheControl = entry.data.cache_control as string;
    const base = (entry.data.path as string).replace(/\/+$/, "");
    // Resolved once, on the first request: a factory does no I/O.
    let realRoot: Promise<string> | undefined;
    const serve = async (requested: string): Promise<Response> => {
      const file = await findFile(await (realRoot ??= realpath(rootOf(entry))), requested, index);
      if (!file) return notFound();
      const body = await readFile(file);
      const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
      return new Response(body, { status: 200, headers: { "content-type": type, "content-length": String(body.length), "cache-control": cacheControl } });
    };
    serveRoute(entry, context, { method: "GET", path: base || "/", handle: () => serve("") });
    serveRoute(entry, context, { method: "GET", path: `${base}/{file...}`, handle: (_request, params) => serve(params.file) });
    return { describe: () => `${rootOf(entry)} at ${base || "/"}` };
  },
});
