/**
 * @module modules/json — JSON encoding and decoding with errors that say what was wrong.
 */
import { TaskrtError, errorMessage } from "../errors.ts";
import { useModule } from "./context.ts";

export const json = {
  encode(value: unknown): string {
    const context = useModule("json");
    try {
      return JSON.stringify(value === undefined ? null : value);
    } catch (error) {
      throw new TaskrtError("E_JSON", `cannot encode JSON: ${errorMessage(error)}`, { entryId: context.entryId, cause: error });
    }
  },
  decode(text: string): unknown {
    const context = useModule("json");
    if (typeof text !== "string") {
      throw new TaskrtError("E_JSON", `json.decode expects a string, got ${typeof text}`, { entryId: context.entryId });
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new TaskrtError("E_JSON", `invalid JSON: ${errorMessage(error)}`, { entryId: context.entryId, cause: error });
    }
  },
};
