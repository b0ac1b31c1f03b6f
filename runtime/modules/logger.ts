/**
 * @module modules/logger — structured log lines from handlers, each carrying the entry id.
 */
import type { LogFields } from "../logger.ts";
import { useModule } from "./context.ts";

export const logger = {
  debug(message: string, fields?: LogFields): void {
    useModule("logger").logger.debug(message, fields);
  },
  info(message: string, fields?: LogFields): void {
    useModule("logger").logger.info(message, fields);
  },
  warn(message: string, fields?: LogFields): void {
    useModule("logger").logger.warn(message, fields);
  },
  error(message: string, fields?: LogFields): void {
    useModule("logger").logger.error(message, fields);
  },
};
