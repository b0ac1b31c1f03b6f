// A Lua worker thread's entry: registers tsx (workers do not inherit the parent's loader), then runs the worker.
import { register } from "tsx/esm/api";

register();
await import("./worker.ts");
