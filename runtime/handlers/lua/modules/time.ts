/**
 * @module handlers/lua/modules/time — Lua's `time` module (Wippy's API) over the TypeScript `time`
 * module. As in Wippy, a number given as a duration counts nanoseconds (`time.sleep(time.SECOND)`);
 * a string is a duration such as "100ms".
 */
import { formatGoLayout, GO_LAYOUTS } from "./go-time-format.ts";
import { parseDuration } from "../../../duration.ts";
import { TaskrtError } from "../../../errors.ts";
import { time } from "../../../modules/time.ts";
import { defineLuaClass, handle, handleArgument, type LuaClass } from "../handles.ts";
import { defineLuaModule } from "../module.ts";
import type { LuaArguments, NativeFunction } from "../native.ts";
import { LUA_TYPE } from "../wasm.ts";

const NANOSECONDS_PER_MS = 1_000_000;

/** A duration argument as the TypeScript module takes it: the string as written, or milliseconds (from nanoseconds or a Duration). */
function durationArgument(args: LuaArguments, position: number): string | number {
  const type = args.type(position);
  if (type === LUA_TYPE.STRING) return args.string(position);
  if (type === LUA_TYPE.NUMBER) return args.number(position) / NANOSECONDS_PER_MS;
  const duration = handleArgument(args, position, DurationClass);
  if (duration) return (duration.value as number) / NANOSECONDS_PER_MS;
  throw new TaskrtError("E_DURATION", `invalid duration: expected a string such as "100ms", a number of nanoseconds or a Duration, got ${args.typeName(position)}`);
}

/** A duration argument in milliseconds; `positive` refuses zero (timers and tickers, as Wippy's). */
export function durationMilliseconds(args: LuaArguments, position: number, positive: boolean): number {
  const duration = durationArgument(args, position);
  const ms = typeof duration === "number" ? duration : parseDuration(duration);
  if (!Number.isFinite(ms) || ms < 0 || (positive && ms <= 0)) {
    throw new TaskrtError("E_DURATION", `invalid duration ${JSON.stringify(typeof duration === "string" ? duration : `${duration * NANOSECONDS_PER_MS}ns`)}: ${positive ? "must be > 0" : "must not be negative"}`);
  }
  return ms;
}

/** Wippy's Duration: nanoseconds, read in any unit. */
const DurationClass: LuaClass<number> = defineLuaClass<number>(
  "time.Duration",
  "d",
  {
    nanoseconds: (self) => [self],
    microseconds: (self) => [self / 1000],
    milliseconds: (self) => [self / NANOSECONDS_PER_MS],
    seconds: (self) => [self / (1000 * NANOSECONDS_PER_MS)],
    minutes: (self) => [self / (60_000 * NANOSECONDS_PER_MS)],
    hours: (self) => [self / (3_600_000 * NANOSECONDS_PER_MS)],
  },
  (self) => `${self / NANOSECONDS_PER_MS}ms`,
);

export function durationHandle(nanoseconds: number) {
  return handle(DurationClass, nanoseconds);
}

export function timeHandle(date: Date) {
  return handle(TimeClass, date);
}

function otherTime(args: LuaArguments, position: number): Date {
  const found = handleArgument(args, position, TimeClass);
  if (!found) throw new TaskrtError("E_LUA_ARGUMENT", `bad argument #${position - 1} (time.Time expected, got ${args.typeName(position)})`);
  return found.value as Date;
}

const TimeClass: LuaClass<Date> = defineLuaClass<Date>(
  "time.Time",
  "t",
  {
    unix: (self) => [Math.floor(self.getTime() / 1000)],
    unix_milli: (self) => [self.getTime()],
    unix_nano: (self) => [self.getTime() * NANOSECONDS_PER_MS],
    format_rfc3339: (self) => [self.toISOString().replace(/\.\d{3}Z$/, "Z")],
    /** Go's reference layout (`"2006-01-02 15:04:05"`, `time.RFC3339`), in UTC. */
    format: (self, args) => [formatGoLayout(self, args.isNil(2) ? GO_LAYOUTS.RFC3339 : args.string(2))],
    year: (self) => [self.getUTCFullYear()],
    month: (self) => [self.getUTCMonth() + 1],
    day: (self) => [self.getUTCDate()],
    hour: (self) => [self.getUTCHours()],
    minute: (self) => [self.getUTCMinutes()],
    second: (self) => [self.getUTCSeconds()],
    weekday: (self) => [self.getUTCDay()],
    utc: (self) => [handle(TimeClass, self)],
    before: (self, args) => [self.getTime() < otherTime(args, 2).getTime()],
    after: (self, args) => [self.getTime() > otherTime(args, 2).getTime()],
    equal: (self, args) => [self.getTime() === otherTime(args, 2).getTime()],
    /** The Duration between the two times. */
    sub: (self, args) => [durationHandle((self.getTime() - otherTime(args, 2).getTime()) * NANOSECONDS_PER_MS)],
    add: (self, args) => {
      const duration = durationArgument(args, 2);
      const ms = typeof duration === "number" ? duration : parseDuration(duration);
      return [handle(TimeClass, new Date(self.getTime() + ms))];
    },
  },
  (self) => self.toISOString(),
);

const TIME: Record<string, NativeFunction | number | string> = {
  sleep: (args) => time.sleep(durationArgument(args, 1)).then(() => []),
  now: () => [handle(TimeClass, time.now())],
  /** A Duration from nanoseconds, a string such as "1h30m" or a Duration. */
  parse_duration: (args) => [durationHandle(durationMilliseconds(args, 1, false) * NANOSECONDS_PER_MS)],
  /** Wippy's constructor: `time.unix(seconds, nanoseconds)`. */
  unix: (args) => {
    const seconds = args.isNil(1) ? 0 : args.number(1);
    const nanoseconds = args.isNil(2) ? 0 : args.number(2);
    return [handle(TimeClass, new Date(seconds * 1000 + nanoseconds / NANOSECONDS_PER_MS))];
  },
  ...GO_LAYOUTS,
  NANOSECOND: 1,
  MICROSECOND: 1000,
  MILLISECOND: NANOSECONDS_PER_MS,
  SECOND: 1000 * NANOSECONDS_PER_MS,
  MINUTE: 60 * 1000 * NANOSECONDS_PER_MS,
  HOUR: 3600 * 1000 * NANOSECONDS_PER_MS,
};

export default defineLuaModule("time", () => TIME);
