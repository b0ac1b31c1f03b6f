/**
 * @module handlers/lua/modules/http — Lua's `http` module (Wippy's API) over the TypeScript `http`
 * module: `http.request()` and `http.response()` return objects with colon methods; request
 * methods return `value, err`, response methods return `err` (nil on success), as Wippy's do.
 */
import { http, type HttpRequest, type HttpResponse } from "../../../modules/http.ts";
import { toLuaError } from "../errors.ts";
import { defineLuaClass, handle, type LuaClass, type LuaMethod } from "../handles.ts";
import { defineLuaModule } from "../module.ts";
import type { NativeFunction } from "../native.ts";

const RequestClass: LuaClass<HttpRequest> = defineLuaClass<HttpRequest>("http.Request", "req", {
  method: (self) => [self.method()],
  path: (self) => [self.path()],
  query: (self, args) => [self.query(args.string(2))],
  query_params: (self) => [self.queryParams()],
  header: (self, args) => [self.header(args.string(2))],
  headers: (self) => [self.headers()],
  content_type: (self) => [self.contentType()],
  content_length: (self) => {
    const length = self.header("content-length");
    return [length === undefined ? 0 : Number(length)];
  },
  host: (self) => [self.header("host")],
  remote_addr: (self) => [self.remoteAddr()],
  has_body: (self) => [self.hasBody()],
  param: (self, args) => [self.param(args.string(2))],
  params: (self) => [self.params()],
  body: (self) => self.body().then((text) => [text]),
  body_json: (self) => self.bodyJson().then((value) => [value]),
});

/** Wippy's response methods return only an error (nil when all went well). */
function errorOnly(method: LuaMethod<HttpResponse>): LuaMethod<HttpResponse> {
  return (self, args) => {
    try {
      method(self, args);
      return undefined;
    } catch (error) {
      return [toLuaError(error)];
    }
  };
}

const ResponseClass: LuaClass<HttpResponse> = defineLuaClass<HttpResponse>("http.Response", "res", {
  set_status: errorOnly((self, args) => void self.setStatus(args.number(2))),
  set_header: errorOnly((self, args) => void self.setHeader(args.string(2), args.string(3))),
  set_content_type: errorOnly((self, args) => void self.setContentType(args.string(2))),
  write: errorOnly((self, args) => void self.write(args.string(2))),
  write_json: errorOnly((self, args) => void self.writeJson(args.value(2))),
});

const HTTP: Record<string, NativeFunction | object> = {
  request: () => [handle(RequestClass, http.request())],
  response: () => [handle(ResponseClass, http.response())],
  STATUS: http.STATUS,
  CONTENT: http.CONTENT,
  METHOD: http.METHOD,
};

export default defineLuaModule("http", () => HTTP);
