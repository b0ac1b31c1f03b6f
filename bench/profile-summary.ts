/**
 * @module bench/profile-summary — prints where a `node --cpu-prof` profile spent its self time.
 * Usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [TOP]
 */
import { renderProfileSummary, summarizeCpuProfile } from "./lib/cpu-profile.ts";

const [file, top] = process.argv.slice(2);
if (!file) {
  console.error("usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [TOP]");
  process.exit(2);
}
console.log(renderProfileSummary(summarizeCpuProfile(file, top ? Number(top) : 15)));
