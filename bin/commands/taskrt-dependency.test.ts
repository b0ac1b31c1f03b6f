import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { resolveTaskrtDependency, type DependencyContext } from "./taskrt-dependency.ts";

describe("the taskrt dependency of a new project", () => {
  let temporary: string;
  /** A project that installed taskrt from a tarball: `installed/node_modules/taskrt`. */
  let installedRoot: string;
  let tarball: string;

  function npm(body: string): string {
    const script = path.join(temporary, `npm-${Math.random().toString(36).slice(2)}.sh`);
    writeFileSync(script, `#!/bin/sh\n${body}\n`);
    chmodSync(script, 0o755);
    return script;
  }

  const context = (overrides: Partial<DependencyContext>): DependencyContext => ({ version: "0.1.0", packageRoot: installedRoot, npm: npm("exit 1"), timeoutMs: 5000, ...overrides });

  before(() => {
    temporary = mkdtempSync(path.join(tmpdir(), "taskrt-dependency-"));
    tarball = path.join(temporary, "taskrt-0.1.0.tgz");
    writeFileSync(tarball, "");
    const project = path.join(temporary, "installed");
    installedRoot = path.join(project, "node_modules", "taskrt");
    mkdirSync(installedRoot, { recursive: true });
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ dependencies: { taskrt: "file:../taskrt-0.1.0.tgz" } }));
  });

  after(() => rmSync(temporary, { recursive: true, force: true }));

  test("is the semver range when the registry has this version", async () => {
    const dependency = await resolveTaskrtDependency(undefined, context({ npm: npm('[ "$2" = taskrt@0.1.0 ] && echo 0.1.0') }));
    assert.deepEqual(dependency, { spec: "^0.1.0", reason: "taskrt 0.1.0 is on the npm registry" });
  });

  test("is the tarball taskrt was installed from when the registry says 404", async () => {
    const dependency = await resolveTaskrtDependency(undefined, context({ npm: npm('echo "npm error code E404" >&2; exit 1') }));
    assert.deepEqual(dependency, {
      spec: `file:${tarball}`,
      reason: "taskrt 0.1.0 is not on the npm registry, or it did not answer; this is the tarball this taskrt was installed from",
    });
  });

  test("counts a registry that does not answer in time as not having it", async () => {
    const dependency = await resolveTaskrtDependency(undefined, context({ npm: npm("exec sleep 30"), timeoutMs: 200 }));
    assert.equal(dependency.spec, `file:${tarball}`);
  });

  test("is this taskrt's folder when it was not installed from a tarball (a checkout)", async () => {
    const checkout = path.join(temporary, "checkout");
    const dependency = await resolveTaskrtDependency(undefined, context({ packageRoot: checkout }));
    assert.deepEqual(dependency, { spec: `file:${checkout}`, reason: "taskrt 0.1.0 is not on the npm registry, or it did not answer; this is this taskrt's folder" });
  });

  test("is what --taskrt-path names, resolved, without asking the registry", async () => {
    const dependency = await resolveTaskrtDependency("relative/taskrt.tgz", context({ npm: "/nonexistent/npm" }));
    assert.deepEqual(dependency, { spec: `file:${path.resolve("relative/taskrt.tgz")}`, reason: "as --taskrt-path asked" });
  });
});
