/**
 * @module http/openapi — builds the OpenAPI 3.1 document of a server from its routers' endpoints:
 * paths in `{param}` form, path and query parameters, request bodies and responses from the schemas
 * they declare (JSON Schema 2020-12, which OpenAPI 3.1 uses as is).
 */
import type { HttpEndpoint } from "./endpoint.ts";
import type { JsonSchemaObject } from "./request-schema.ts";
import { INVALID_BODY, INVALID_JSON, INVALID_QUERY } from "./request-validation.ts";
import { joinRoutePath, toOpenApiPath } from "./route-path.ts";
import type { HttpRouter } from "./router.ts";

export const OPENAPI_VERSION = "3.1.0";

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
  servers?: readonly { url: string; description?: string }[];
}

type JsonObject = Record<string, unknown>;

const JSON_CONTENT = "application/json";

/** What the runtime answers when a request fails an endpoint's declared schemas. */
const VALIDATION_ERROR_SCHEMA: JsonSchemaObject = {
  type: "object",
  properties: {
    error: { type: "string", enum: [INVALID_JSON, INVALID_BODY, INVALID_QUERY] },
    details: {
      type: "array",
      items: {
        type: "object",
        properties: {
          field: { type: "string", description: "A JSON pointer into the body, or the query parameter's name." },
          message: { type: "string" },
        },
        required: ["field", "message"],
      },
    },
  },
  required: ["error"],
};

/** The document; endpoints in router order, then registration order. Call after every endpoint's `prepare()`. */
export function buildOpenApiDocument(info: OpenApiInfo, routers: readonly HttpRouter[]): JsonObject {
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const router of routers) {
    for (const endpoint of router.endpoints) {
      const { path, parameters } = toOpenApiPath(joinRoutePath(router.prefix, endpoint.path));
      (paths[path] ??= {})[endpoint.method.toLowerCase()] = operation(endpoint, parameters);
    }
  }
  const document: JsonObject = { openapi: OPENAPI_VERSION, info: compact({ title: info.title, version: info.version, description: info.description }) };
  if (info.servers && info.servers.length > 0) document.servers = info.servers.map((server) => compact({ url: server.url, description: server.description }));
  document.paths = paths;
  return document;
}

function operation(endpoint: HttpEndpoint, pathParameters: readonly string[]): JsonObject {
  const api = endpoint.api;
  const parameters: JsonObject[] = pathParameters.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } }));
  if (api.query) parameters.push(...queryParameters(api.query));
  const responses: JsonObject = {};
  for (const [status, response] of Object.entries(api.responses)) {
    responses[status] = compact({ description: response.description, content: response.body && jsonContent(response.body) });
  }
  const validated = api.body !== undefined || api.query !== undefined;
  if (validated && responses["400"] === undefined) {
    responses["400"] = { description: "The request does not match the declared schema.", content: jsonContent(VALIDATION_ERROR_SCHEMA) };
  }
  if (Object.keys(api.responses).length === 0) responses.default = { description: `The response of ${endpoint.funcId}.` };
  return compact({
    summary: api.summary,
    description: api.description,
    tags: api.tags && api.tags.length > 0 ? [...api.tags] : undefined,
    operationId: endpoint.entryId,
    parameters: parameters.length > 0 ? parameters : undefined,
    requestBody: api.body && { required: true, content: jsonContent(api.body) },
    responses,
  });
}

/** One parameter per property of the query schema; `required` from its `required` list. */
function queryParameters(schema: JsonSchemaObject): JsonObject[] {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchemaObject>;
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  return Object.entries(properties).map(([name, property]) =>
    compact({
      name,
      in: "query",
      required: required.has(name),
      description: typeof property.description === "string" ? property.description : undefined,
      schema: property,
    }),
  );
}

function jsonContent(schema: JsonSchemaObject): JsonObject {
  return { [JSON_CONTENT]: { schema } };
}

/** Drops undefined fields, so the document carries only what was declared. */
function compact(object: JsonObject): JsonObject {
  for (const key of Object.keys(object)) if (object[key] === undefined) delete object[key];
  return object;
}
