/**
 * @module modules/env — environment variables for handlers, as Wippy's `env`: the `env.variable`
 * entries of the registry, read and written through their storages (never the raw OS
 * environment: that is an `env.storage.os` storage, read-only).
 */
import { TaskrtError } from "../errors.ts";
import type { EnvironmentVariables } from "../contracts/process-services.ts";
import { useModule } from "./context.ts";

function variables(): EnvironmentVariables {
  const context = useModule("env");
  const environment = context.services.environment;
  if (!environment) throw new TaskrtError("E_ENV_UNAVAILABLE", "env: this runtime has no env.variable entries to read");
  return environment;
}

export const env = {
  /** The value; rejects with E_ENV_NOT_FOUND when the variable is not declared or has no value. */
  get(name: string): Promise<string> {
    return variables().get(name);
  },
  set(name: string, value: string): Promise<void> {
    if (typeof value !== "string") return Promise.reject(new TaskrtError("E_ENV_INVALID", `env.set: the value of ${name} must be a string, got ${typeof value}`));
    return variables().set(name, value);
  },
  getAll(): Promise<Record<string, string>> {
    return variables().all();
  },
};
