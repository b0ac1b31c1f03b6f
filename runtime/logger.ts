/**
 * @module logger — structured log lines carrying the entry id: JSON when piped, compact text on a TTY.
 * Levels below the threshold cost one comparison, so hot paths may call `debug` freely.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose lines carry `entry: id`. */
  forEntry(entryId: string): Logger;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogSink {
  write(line: string): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: "json" | "text";
  sink?: LogSink;
}

export function parseLogLevel(value: string | undefined): LogLevel | undefined {
  return value && value in LEVELS ? (value as LogLevel) : undefined;
}

export function createLogger(options: LoggerOptions = {}, entryId?: string): Logger {
  const threshold = LEVELS[options.level ?? parseLogLevel(process.env.TASKRT_LOG_LEVEL) ?? "info"];
  const format = options.format ?? (process.stdout.isTTY ? "text" : "json");
  const sink = options.sink ?? { write: (line: string) => process.stdout.write(line) };

  const emit = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (LEVELS[level] < threshold) return;
    sink.write(format === "json" ? jsonLine(level, message, entryId, fields) : textLine(level, message, entryId, fields));
  };
  return {
    debug: (message, fields) => emit("debug", message, fields),
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    error: (message, fields) => emit("error", message, fields),
    forEntry: (id) => createLogger({ level: levelName(threshold), format, sink }, id),
  };
}

function levelName(threshold: number): LogLevel {
  return (Object.keys(LEVELS) as LogLevel[]).find((level) => LEVELS[level] === threshold) ?? "info";
}

function jsonLine(level: LogLevel, message: string, entryId: string | undefined, fields?: LogFields): string {
  const record: LogFields = { time: new Date().toISOString(), level, msg: message };
  if (entryId) record.entry = entryId;
  if (fields) for (const key in fields) addField(record, key, fields[key]);
  return JSON.stringify(record) + "\n";
}

function textLine(level: LogLevel, message: string, entryId: string | undefined, fields?: LogFields): string {
  const time = new Date().toISOString().slice(11, 23);
  let line = `${time} ${level.toUpperCase().padEnd(5)} ${entryId ? `${entryId} ` : ""}${message}`;
  if (fields) {
    const record: LogFields = {};
    for (const key in fields) addField(record, key, fields[key]);
    for (const key in record) {
      const value = record[key];
      line += ` ${key}=${typeof value === "string" ? value : JSON.stringify(value)}`;
    }
  }
  return line + "\n";
}

/**
 * An Error becomes its stack; its `code` and `hint` (TaskrtError, pg's `code`) go beside it as
 * `<key>_code` and `<key>_hint`, so the line keeps what a reader acts on.
 */
function addField(record: LogFields, key: string, value: unknown): void {
  if (value instanceof Error) {
    record[key] = value.stack ?? value.message;
    const { code, hint } = value as { code?: unknown; hint?: unknown };
    if (code !== undefined && code !== null) record[`${key}_code`] = String(code);
    if (typeof hint === "string" && hint) record[`${key}_hint`] = hint;
    return;
  }
  record[key] = typeof value === "bigint" ? value.toString() : value;
}
