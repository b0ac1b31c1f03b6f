// The SQLite writer thread's entry. Compiled (dist/), worker.js sits beside it. From the sources,
// it registers tsx first: a worker does not inherit its parent's loader.
import { existsSync } from "node:fs";

const compiled = new URL("./worker.js", import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("./worker.ts");
}
