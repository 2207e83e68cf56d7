// `modelship forget`: a local home drops a failed experiment — a version's history, registry entries and
// bucket folders — or a whole model that no longer serves; it refuses what serves or is being rolled out,
// and names the models (or versions) it knows when asked for one it does not.

import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { run as forget } from "../../lib/cli/forget";
import type { Transition } from "../../lib/core/rollout/rollout";
import { JsonFileRolloutStore } from "../../lib/local/json-rollout-store";
import { LocalRegistry } from "../../lib/local/local-registry";
import { captureConsole } from "../support/console-capture";

let home: string;
let store: JsonFileRolloutStore;
let registry: LocalRegistry;
let output: string[];

const handle = (version: string) => ({
  id: `tiny-${version}`,
  model: "tiny",
  version,
  rolloutId: `tiny-${version}-00000000`,
  servedName: "tiny",
  deployedAt: "2025-06-01T12:00:00.000Z",
});

function transition(version: string, stage: string, status: Transition["status"]): Transition {
  return {
    at: "2025-06-01T12:00:00.000Z",
    rolloutId: `tiny-${version}-00000000`,
    version,
    stage,
    status,
    reason: `${stage} of ${version}.`,
  };
}

/** tiny: v1 serves; v2 failed in its gates; both uploaded, registered and reported. */
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), "modelship-forget-"));
  store = new JsonFileRolloutStore(join(home, "rollouts.json"));
  registry = new LocalRegistry({ home });
  await store.record("tiny", transition("v1", "Finalize", "promoted"), {
    stableVersion: "v1",
    stable: { version: "v1", rolloutId: "tiny-v1-00000000", handle: handle("v1") },
    status: "promoted",
  });
  await store.record("tiny", transition("v2", "Prepare", "running"));
  await store.record("tiny", transition("v2", "Cleanup", "failed"), { status: "failed" });
  for (const version of ["v1", "v2"]) {
    for (const area of ["models", "reports"]) {
      await mkdir(join(home, "bucket", area, "tiny", version), { recursive: true });
      await writeFile(join(home, "bucket", area, "tiny", version, "file"), version);
    }
    await registry.register({
      model: "tiny",
      version,
      rolloutId: `tiny-${version}-00000000`,
      artifactUri: "",
      reportUris: {},
      metadata: {},
    });
  }
  output = captureConsole();
});

afterEach(async () => {
  vi.restoreAllMocks();
  await rm(home, { recursive: true, force: true });
});

const printed = () => output.join("\n");

describe("modelship forget", () => {
  it("forgets a version that never served: its history, registry entries and folders, and status shows what serves", async () => {
    expect(await forget(["tiny", "--version", "v2", "--local", "--home", home])).toBe(0);

    const record = await store.get("tiny");
    expect(record?.history.map((t) => t.version)).toEqual(["v1"]);
    expect(record?.status).toBe("promoted");
    expect(await registry.getStatus("tiny", "v2")).toBeUndefined();
    expect(await registry.getStatus("tiny", "v1")).toBe("PendingManualApproval");
    expect(existsSync(join(home, "bucket", "models", "tiny", "v2"))).toBe(false);
    expect(existsSync(join(home, "bucket", "reports", "tiny", "v2"))).toBe(false);
    expect(existsSync(join(home, "bucket", "models", "tiny", "v1"))).toBe(true);
    expect(printed()).toContain("✓ Forgot tiny v2:");
    expect(printed()).toContain("2 transition(s) of its history, 1 registry entry,");
  });

  it("refuses a version that serves, and a model that serves, changing nothing", async () => {
    expect(await forget(["tiny", "--version", "v1", "--local", "--home", home])).toBe(1);
    expect(printed()).toContain("✖ tiny v1 is not forgotten: it is the stable version.");
    expect(await forget(["tiny", "--local", "--home", home])).toBe(1);
    expect(printed()).toContain("✖ tiny is not forgotten: v1 serves it");
    expect((await store.get("tiny"))?.history).toHaveLength(3);
    expect(existsSync(join(home, "bucket", "models", "tiny", "v2"))).toBe(true);
  });

  it("refuses while a rollout of the version runs", async () => {
    await store.acquireLock("tiny", {
      rolloutId: "tiny-v3-00000000",
      version: "v3",
      since: "2025-06-01T13:00:00.000Z",
    });
    await store.record("tiny", transition("v3", "Prepare", "running"));

    expect(await forget(["tiny", "--version", "v3", "--local", "--home", home])).toBe(1);
    expect(printed()).toContain("✖ tiny v3 is not forgotten: rollout tiny-v3-00000000 of v3 is running");
  });

  it("forgets a whole model once nothing of it serves", async () => {
    await store.forget("tiny", "v1", () => undefined);
    await store.record("tiny", transition("v1", "Rollback", "rolled_back"), {
      stable: null,
      stableVersion: null,
    });

    expect(await forget(["tiny", "--local", "--home", home])).toBe(0);
    expect(await store.get("tiny")).toBeUndefined();
    expect(existsSync(join(home, "bucket", "models", "tiny"))).toBe(false);
    expect(await registry.getStatus("tiny", "v1")).toBeUndefined();
  });

  it("names the models, or the versions, it knows when asked for one it does not", async () => {
    expect(await forget(["tiyn", "--local", "--home", home])).toBe(1);
    expect(printed()).toContain(`✖ The home ${home} knows no model tiyn.`);
    expect(printed()).toContain("Hint: The models it knows: tiny.");
    expect(await forget(["tiny", "--version", "v9", "--local", "--home", home])).toBe(1);
    expect(printed()).toContain("Hint: The versions of tiny it knows: v1, v2.");
  });

  it("works on a local home only", async () => {
    expect(await forget(["tiny", "--home", home])).toBe(2);
    expect(printed()).toContain("add --local");
  });
});
