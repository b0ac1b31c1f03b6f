/**
 * @module test/support/browser — headless Chromium for the dashboard's browser tests: Debian's
 * `chromium` driven by playwright-core (nothing downloads a browser). Where it is not installed the
 * tests skip with a message; under CI=true that is a failure (`.ci/run` installs it).
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { isCi } from "./services.ts";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

// Without the background-networking flags Chromium keeps trying to reach Google's hosts, which a
// closed network refuses many times a second.
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** For `describe(name, { skip }, …)`: false when Chromium is installed, else why the suite skips (throws under CI). */
export function chromiumSkip(environment: NodeJS.ProcessEnv = process.env): string | false {
  if (existsSync(CHROMIUM_PATH)) return false;
  if (isCi(environment)) throw new Error(`Chromium is not installed at ${CHROMIUM_PATH} (CI requires it: apt-get install chromium)`);
  return `Chromium is not installed at ${CHROMIUM_PATH}: skipped (apt-get install chromium, or set CHROMIUM_PATH)`;
}

/** A headless browser with a fresh profile (playwright makes a new empty one per launch). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: FLAGS });
}
