/**
 * @module metrics/http-route — wraps one route's handler to record each answer's status and the
 * time from acceptance to the response; the server applies it only while metrics are collected.
 */
import type { RouteHandler } from "../http/dispatch.ts";
import type { HttpRouteRecorder } from "./instruments.ts";

/** Status recorded for a handler that throws: the server answers it with a 500. */
const THROWN_STATUS = 500;

export function measureRoute(handler: RouteHandler, recorder: HttpRouteRecorder): RouteHandler {
  return (context) => {
    const startedAt = performance.now();
    let response: Response | Promise<Response>;
    try {
      response = handler(context);
    } catch (error) {
      recorder.record(THROWN_STATUS, (performance.now() - startedAt) / 1000);
      throw error;
    }
    if (!(response instanceof Promise)) {
      recorder.record(response.status, (performance.now() - startedAt) / 1000);
      return response;
    }
    return response.then(
      (answered) => {
        recorder.record(answered.status, (performance.now() - startedAt) / 1000);
        return answered;
      },
      (error: unknown) => {
        recorder.record(THROWN_STATUS, (performance.now() - startedAt) / 1000);
        throw error;
      },
    );
  };
}
