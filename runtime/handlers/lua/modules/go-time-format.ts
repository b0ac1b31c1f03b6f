/**
 * @module handlers/lua/modules/go-time-format — Go's reference-time layouts (`2006-01-02 15:04:05`),
 * which Wippy's `Time:format(layout)` takes, applied to a Date in UTC (taskrt's times are UTC).
 */

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

const pad = (value: number, width = 2): string => String(value).padStart(width, "0");

/** Longest tokens first, as Go matches them. */
const TOKENS: [string, (date: Date) => string][] = [
  ["January", (d) => MONTHS[d.getUTCMonth()]],
  ["Monday", (d) => DAYS[d.getUTCDay()]],
  ["Z07:00", () => "Z"],
  ["-07:00", () => "+00:00"],
  ["-0700", () => "+0000"],
  ["2006", (d) => String(d.getUTCFullYear())],
  [".000000000", (d) => `.${pad(d.getUTCMilliseconds(), 3)}000000`],
  [".000000", (d) => `.${pad(d.getUTCMilliseconds(), 3)}000`],
  [".000", (d) => `.${pad(d.getUTCMilliseconds(), 3)}`],
  [".999999999", (d) => fraction(d)],
  [".999999", (d) => fraction(d)],
  [".999", (d) => fraction(d)],
  ["Jan", (d) => MONTHS[d.getUTCMonth()].slice(0, 3)],
  ["Mon", (d) => DAYS[d.getUTCDay()].slice(0, 3)],
  ["MST", () => "UTC"],
  ["_2", (d) => String(d.getUTCDate()).padStart(2, " ")],
  ["01", (d) => pad(d.getUTCMonth() + 1)],
  ["02", (d) => pad(d.getUTCDate())],
  ["03", (d) => pad(hour12(d))],
  ["04", (d) => pad(d.getUTCMinutes())],
  ["05", (d) => pad(d.getUTCSeconds())],
  ["06", (d) => pad(d.getUTCFullYear() % 100)],
  ["15", (d) => pad(d.getUTCHours())],
  ["PM", (d) => (d.getUTCHours() < 12 ? "AM" : "PM")],
  ["pm", (d) => (d.getUTCHours() < 12 ? "am" : "pm")],
  ["1", (d) => String(d.getUTCMonth() + 1)],
  ["2", (d) => String(d.getUTCDate())],
  ["3", (d) => String(hour12(d))],
  ["4", (d) => String(d.getUTCMinutes())],
  ["5", (d) => String(d.getUTCSeconds())],
];

function hour12(date: Date): number {
  return date.getUTCHours() % 12 || 12;
}

/** `.999`: the fraction without trailing zeros, and nothing at all when it is zero. */
function fraction(date: Date): string {
  const ms = date.getUTCMilliseconds();
  return ms === 0 ? "" : `.${pad(ms, 3).replace(/0+$/, "")}`;
}

export function formatGoLayout(date: Date, layout: string): string {
  let out = "";
  let at = 0;
  outer: while (at < layout.length) {
    for (const [token, render] of TOKENS) {
      if (layout.startsWith(token, at)) {
        out += render(date);
        at += token.length;
        continue outer;
      }
    }
    out += layout[at];
    at++;
  }
  return out;
}

/** Wippy's layout constants on the `time` module (Go's names). */
export const GO_LAYOUTS = {
  RFC3339: "2006-01-02T15:04:05Z07:00",
  RFC3339NANO: "2006-01-02T15:04:05.999999999Z07:00",
  RFC822: "02 Jan 06 15:04 MST",
  RFC1123: "Mon, 02 Jan 2006 15:04:05 MST",
  KITCHEN: "3:04PM",
  DATE_TIME: "2006-01-02 15:04:05",
  DATE_ONLY: "2006-01-02",
  TIME_ONLY: "15:04:05",
} as const;
