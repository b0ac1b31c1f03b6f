/**
 * @module http/route-path — route path arithmetic: router prefix + endpoint path, Wippy's `{id}`
 * parameters in Hono's `:id` form (and back, for OpenAPI), the shape two routes conflict on, and a
 * matcher for 405s.
 */

/** Wippy trims a trailing `/` off the prefix, so `"/"` means no prefix. */
export function joinRoutePath(prefix: string, path: string): string {
  const trimmed = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  return trimmed + path;
}

const BRACED_PARAMETER = /\{([A-Za-z0-9_]+)(\.\.\.)?\}/g;

/** `{id}` → `:id`; `{rest...}` (Go's trailing wildcard) → `:rest{.+}`; `:id` stays. */
export function toHonoPath(path: string): string {
  return path.replace(BRACED_PARAMETER, (_match, name: string, rest: string | undefined) => (rest ? `:${name}{.+}` : `:${name}`));
}

// `:name`, `:name{regex}` (one level of nested braces, as in `{\d{2}}`), `:name?`, or `*`.
const HONO_TOKEN = /:([A-Za-z0-9_]+)(\{(?:[^{}]|\{[^{}]*\})+\})?(\?)?|\*/g;

/** What two paths conflict on: the same text once parameter names are dropped. */
export function routeShape(path: string): string {
  return toHonoPath(path).replace(HONO_TOKEN, (match, name: string | undefined, pattern: string | undefined, optional: string | undefined) =>
    name === undefined ? match : `:${pattern ?? ""}${optional ?? ""}`,
  );
}

/**
 * A path in OpenAPI's form and its parameters in order: `/tasks/:id` and `/tasks/{id}` both give
 * `/tasks/{id}`; a pattern (`:id{[0-9]+}`), an optional mark or a trailing `{rest...}` is dropped
 * from the name. A `*` wildcard stays as written: OpenAPI has no form for it.
 */
export function toOpenApiPath(path: string): { path: string; parameters: string[] } {
  const parameters: string[] = [];
  const converted = toHonoPath(path).replace(HONO_TOKEN, (match, name: string | undefined) => {
    if (name === undefined) return match;
    parameters.push(name);
    return `{${name}}`;
  });
  return { path: converted, parameters };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A whole-path matcher for a Hono path, used only off the hot path (404/405/OPTIONS). */
export function compileRouteMatcher(honoPath: string): RegExp {
  let source = "";
  let last = 0;
  for (const match of honoPath.matchAll(HONO_TOKEN)) {
    const index = match.index ?? 0;
    let literal = honoPath.slice(last, index);
    last = index + match[0].length;
    if (match[0] === "*") {
      source += escapeRegExp(literal) + ".*";
      continue;
    }
    const segment = match[2] ? `(?:${match[2].slice(1, -1)})` : "[^/]+";
    if (match[3] && literal.endsWith("/")) {
      literal = literal.slice(0, -1);
      source += `${escapeRegExp(literal)}(?:/${segment})?`;
    } else {
      source += escapeRegExp(literal) + segment;
    }
  }
  source += escapeRegExp(honoPath.slice(last));
  return new RegExp(`^${source}$`);
}
