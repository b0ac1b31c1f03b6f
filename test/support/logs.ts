/**
 * @module test/support/logs — a logger that records its lines, parsed, for tests to assert on.
 */
import { createLogger, type Logger } from "../../runtime/logger.ts";

export interface LogRecord {
  level: string;
  msg: string;
  entry?: string;
  [field: string]: unknown;
}

export function captureLogger(): { logger: Logger; lines: LogRecord[] } {
  const lines: LogRecord[] = [];
  const logger = createLogger({ level: "debug", format: "json", sink: { write: (line) => lines.push(JSON.parse(line) as LogRecord) } });
  return { logger, lines };
}
