/**
 * @module http/endpoint-api — what an `http.endpoint` declares about its API (summary, tags, request
 * and response schemas): loaded and compiled once when its server starts, and checked at validation.
 */
import { TaskrtError, type Problem, type ProblemCode } from "../errors.ts";
import type { Entry, FieldPath } from "../registry/entry.ts";
import { checkSchema, compileBodyValidator, compileQueryValidator, loadSchema, type JsonSchemaObject } from "./request-schema.ts";
import { RequestValidation } from "./request-validation.ts";

/** As written in the entry, schemas inline or `file:///absolute.json`. */
export interface EndpointApiDeclaration {
  summary?: string;
  description?: string;
  tags?: readonly string[];
  request?: { body?: unknown; query?: unknown };
  responses?: Record<string, { description: string; body?: unknown }>;
}

/** The declaration with its schemas read: what the OpenAPI document is made of. */
export interface EndpointApi {
  summary?: string;
  description?: string;
  tags?: readonly string[];
  body?: JsonSchemaObject;
  query?: JsonSchemaObject;
  /** In declaration order; empty when the endpoint declares none. */
  responses: Record<string, { description: string; body?: JsonSchemaObject }>;
}

export interface PreparedEndpointApi {
  api: EndpointApi;
  /** Undefined when neither a body nor a query schema is declared: such requests are not touched. */
  validation: RequestValidation | undefined;
}

/** The API fields of an endpoint entry's data (the schema already checked their shape). */
export function readApiDeclaration(data: Record<string, unknown>): EndpointApiDeclaration {
  return {
    summary: data.summary as string | undefined,
    description: data.description as string | undefined,
    tags: data.tags as string[] | undefined,
    request: data.request as EndpointApiDeclaration["request"],
    responses: data.responses as EndpointApiDeclaration["responses"],
  };
}

/** Reads every schema and compiles the request validators; throws the first problem (E_FILE, E_SCHEMA). */
export function prepareEndpointApi(declaration: EndpointApiDeclaration, entryId: string): PreparedEndpointApi {
  const api: EndpointApi = { summary: declaration.summary, description: declaration.description, tags: declaration.tags, responses: {} };
  const request = declaration.request ?? {};
  let validation: RequestValidation | undefined;
  if (request.body !== undefined || request.query !== undefined) {
    api.body = request.body === undefined ? undefined : loadSchema(request.body, entryId, "request.body");
    api.query = request.query === undefined ? undefined : loadSchema(request.query, entryId, "request.query");
    validation = new RequestValidation({
      body: api.body && compileBodyValidator(api.body, entryId),
      query: api.query && compileQueryValidator(api.query, entryId),
    });
  }
  for (const [status, response] of Object.entries(declaration.responses ?? {})) {
    const field = `responses.${status}.body`;
    api.responses[status] = {
      description: response.description,
      body: response.body === undefined ? undefined : loadSchema(response.body, entryId, field),
    };
  }
  return { api, validation };
}

/** Every schema of the entry that cannot be read or compiled, located at its field. */
export function endpointApiProblems(entry: Entry): Problem[] {
  const declaration = readApiDeclaration(entry.data);
  const problems: Problem[] = [];
  const attempt = (path: FieldPath, source: unknown, compile: (schema: JsonSchemaObject, field: string) => void): void => {
    if (source === undefined) return;
    const field = path.join(".");
    try {
      compile(loadSchema(source, entry.id, field), field);
    } catch (error) {
      if (!(error instanceof TaskrtError)) throw error;
      problems.push({
        code: error.code as ProblemCode,
        severity: "error",
        // The entry id is in the problem already; the message starts at the field.
        message: error.message.slice(`${entry.id}: `.length),
        entryId: entry.id,
        field,
        location: entry.locate(path),
        hint: error.hint,
      });
    }
  };
  attempt(["request", "body"], declaration.request?.body, (schema, field) => compileBodyValidator(schema, entry.id, field));
  attempt(["request", "query"], declaration.request?.query, (schema, field) => compileQueryValidator(schema, entry.id, field));
  for (const [status, response] of Object.entries(declaration.responses ?? {})) {
    attempt(["responses", status, "body"], response.body, (schema, field) => checkSchema(schema, entry.id, field));
  }
  return problems;
}
