/**
 * @module modules/time — sleeping without blocking, and the current time, for handlers.
 */
import { parseDuration } from "../duration.ts";
import { TaskrtError } from "../errors.ts";
import { useModule } from "./context.ts";
import { sleepLong } from "../timers.ts";

export const time = {
  /** Waits `duration` (ms, or "100ms"/"2s"); ends early with an error when the call is cancelled. */
  async sleep(duration: string | number): Promise<void> {
    const context = useModule("time");
    const ms = parseDuration(duration);
    try {
      await sleepLong(ms, context.signal);
    } catch (error) {
      throw new TaskrtError("E_CANCELED", `sleep cancelled: ${context.entryId} was stopped`, { entryId: context.entryId, cause: error });
    }
  },
  now(): Date {
    useModule("time");
    return new Date();
  },
  /** Unix seconds, as Lua's os.time(). */
  unix(): number {
    useModule("time");
    return Math.floor(Date.now() / 1000);
  },
};
