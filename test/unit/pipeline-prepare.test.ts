import { beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { ManifestInvalid, RolloutInProgress } from "../../lib/core/errors";
import type { ExecutionInput } from "../../lib/core/rollout/rollout";
import { prepare } from "../../lib/pipeline/prepare";
import { FixedClock } from "../support/fixed-clock";
import { MemoryEvents } from "../support/memory-events";
import { MemoryObjectStore } from "../support/memory-object-store";
import { MemoryRolloutStore } from "../support/memory-rollout-store";

const PREFIX = "models/llama/v3/";

function rolloutInput(fileName = "modelship.yaml"): ExecutionInput {
  return {
    rollout: {
      id: "llama-v3-0a1b2c3d",
      model: "llama",
      version: "v3",
      source: { bucket: "models-bucket", key: `${PREFIX}${fileName}`, prefix: PREFIX },
    },
  };
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the stage to fail");
}

describe("Prepare", () => {
  let objects: MemoryObjectStore;
  let store: MemoryRolloutStore;
  let events: MemoryEvents;
  let clock: FixedClock;
  let deps: Parameters<typeof prepare>[1];

  beforeEach(async () => {
    objects = new MemoryObjectStore();
    store = new MemoryRolloutStore();
    events = new MemoryEvents();
    clock = new FixedClock("2025-06-01T12:00:00.000Z");
    deps = { objects, store, events, clock, config: DEFAULT_STACK_CONFIG };
    await objects.put(`${PREFIX}model.gguf`, new Uint8Array(4096));
  });

  describe("a first release", () => {
    beforeEach(async () => {
      await objects.put(`${PREFIX}modelship.yaml`, "format: gguf\nrollout: {steps: [10, 50]}\n");
    });

    it("returns the resolved manifest and a plan without a canary", async () => {
      const result = await prepare(rolloutInput(), deps);
      expect(result.manifest).toMatchObject({ name: "llama", version: "v3", format: "gguf" });
      expect(result.manifest.rollout.steps.map((s) => s.weight)).toEqual([10, 50, 100]);
      expect(result.plan).toMatchObject({ hasStable: false, canarySteps: [] });
    });

    it("takes the model's lock and records the rollout as running", async () => {
      await prepare(rolloutInput(), deps);
      const record = await store.get("llama");
      expect(record?.lock).toEqual({
        rolloutId: "llama-v3-0a1b2c3d",
        version: "v3",
        since: "2025-06-01T12:00:00.000Z",
      });
      expect(record).toMatchObject({ status: "running", candidateVersion: "v3" });
      expect(record?.history).toEqual([
        {
          at: "2025-06-01T12:00:00.000Z",
          rolloutId: "llama-v3-0a1b2c3d",
          version: "v3",
          stage: "Prepare",
          status: "running",
          reason: "Rolling out llama v3: a first release, no canary.",
        },
      ]);
    });

    it("emits Rollout Started with the rollout's identity", async () => {
      await prepare(rolloutInput(), deps);
      expect(events.emitted).toEqual([
        {
          detailType: "Rollout Started",
          time: "2025-06-01T12:00:00.000Z",
          detail: {
            model: "llama",
            version: "v3",
            rolloutId: "llama-v3-0a1b2c3d",
            executionArn: "",
            stage: "Prepare",
            message: "Rolling out llama v3: a first release, no canary.",
            data: {
              stableVersion: null,
              strategy: "canary",
              canarySteps: [],
              gates: { smoke: true, stress: true, eval: true },
              warnings: 0,
            },
          },
        },
      ]);
    });

    it("is idempotent: a retry adopts its own lock and records and emits nothing twice", async () => {
      const first = await prepare(rolloutInput(), deps);
      clock.advance(10);
      const second = await prepare(rolloutInput(), deps);
      expect(second).toEqual(first);
      expect((await store.get("llama"))?.history).toHaveLength(1);
      expect((await store.get("llama"))?.lock?.since).toBe("2025-06-01T12:00:00.000Z");
      expect(events.emitted).toHaveLength(1);
    });
  });

  it("plans a canary against the stable version when one serves", async () => {
    await objects.put(`${PREFIX}modelship.json`, JSON.stringify({ rollout: { steps: [5, 25] } }));
    await store.record(
      "llama",
      {
        at: "2025-05-01T00:00:00.000Z",
        rolloutId: "llama-v2-1",
        version: "v2",
        stage: "Promote",
        status: "promoted",
        reason: "v2 promoted.",
      },
      { stableVersion: "v2", status: "promoted" },
    );
    const { plan } = await prepare(rolloutInput("modelship.json"), deps);
    expect(plan).toMatchObject({ hasStable: true, stableVersion: "v2" });
    expect(plan.canarySteps.map((s) => s.weight)).toEqual([5, 25, 100]);
    expect(events.emitted[0]?.detail.message).toBe("Rolling out llama v3 as a canary against stable v2.");
  });

  describe("an invalid manifest", () => {
    it("fails with ManifestInvalid carrying every finding, and takes no lock", async () => {
      await objects.put(
        `${PREFIX}modelship.yaml`,
        "name: mistral\nrollout:\n  bakeSecond: 60\n  steps: [50, 5]\n",
      );
      const error = await caught(prepare(rolloutInput(), deps));
      expect(error).toBeInstanceOf(ManifestInvalid);
      const invalid = error as ManifestInvalid;
      expect(invalid.findings.map((f) => f.path)).toEqual(["rollout.bakeSecond", "name", "rollout.steps[1]"]);
      expect(invalid.message).toContain("did you mean 'bakeSeconds'?");
      expect(invalid.reason).toBe("The manifest models/llama/v3/modelship.yaml has 3 errors.");
      expect(await store.get("llama")).toBeUndefined();
    });

    it("fails with ManifestInvalid naming the line of a YAML tag, never with a TypeError", async () => {
      await objects.put(`${PREFIX}modelship.yaml`, "format: gguf\nserving: !!binary aGVsbG8=\n");
      const error = await caught(prepare(rolloutInput(), deps));
      expect(error).toBeInstanceOf(ManifestInvalid);
      expect((error as ManifestInvalid).findings).toEqual([
        expect.objectContaining({
          code: "manifest.yaml-tag",
          path: "serving",
          message: expect.stringMatching(/^the tag !!binary on line 2 /),
        }),
      ]);
      expect(await store.get("llama")).toBeUndefined();
    });

    it("reports the semantic errors alone when the manifest parses", async () => {
      await objects.put(`${PREFIX}modelship.yaml`, "name: mistral\nrollout:\n  steps: [50, 5]\n");
      const error = (await caught(prepare(rolloutInput(), deps))) as ManifestInvalid;
      expect(error.findings.map((f) => f.path)).toEqual(["name", "rollout.steps[1]"]);
      expect(error.findings.every((f) => f.file === "modelship.yaml")).toBe(true);
    });

    it("emits Rollout Rejected with the error, reason, hint and the findings", async () => {
      await objects.put(`${PREFIX}modelship.yaml`, "serving: {runtime: vlm}\n");
      await caught(prepare(rolloutInput(), deps));
      expect(events.emitted).toHaveLength(1);
      expect(events.emitted[0]).toMatchObject({
        detailType: "Rollout Rejected",
        detail: {
          model: "llama",
          version: "v3",
          rolloutId: "llama-v3-0a1b2c3d",
          stage: "Prepare",
          error: "ManifestInvalid",
          reason: "The manifest models/llama/v3/modelship.yaml has 1 error.",
          hint: "Fix every finding listed, then upload the manifest again.",
          data: {
            errors: 1,
            findings: ["serving.runtime: expected one of 'vllm', 'llama.cpp', found 'vlm'."],
          },
        },
      });
    });

    it("says where to look when the manifest is missing", async () => {
      const error = (await caught(prepare(rolloutInput(), deps))) as ManifestInvalid;
      expect(error).toBeInstanceOf(ManifestInvalid);
      expect(error.reason).toBe("The manifest models/llama/v3/modelship.yaml is not in s3://memory-bucket.");
      expect(error.hint).toContain("Upload the manifest last");
    });

    it("refuses a manifest that is not UTF-8", async () => {
      await objects.put(`${PREFIX}modelship.yaml`, new Uint8Array([0x6e, 0x61, 0xff, 0xfe, 0x3a]));
      const error = (await caught(prepare(rolloutInput(), deps))) as ManifestInvalid;
      expect(error.findings[0]).toMatchObject({ code: "manifest.encoding", file: "modelship.yaml" });
    });

    it("refuses an object too large to be a manifest without reading it", async () => {
      await objects.put(`${PREFIX}modelship.yaml`, new Uint8Array(2 * 1024 * 1024));
      const error = (await caught(prepare(rolloutInput(), deps))) as ManifestInvalid;
      expect(error.findings[0]?.code).toBe("manifest.too-large");
      expect(objects.reads.filter((r) => r.key.endsWith("modelship.yaml"))).toEqual([]);
    });

    it("refuses to roll out the version that is already stable", async () => {
      await objects.put(`${PREFIX}modelship.yaml`, "");
      await store.record(
        "llama",
        {
          at: "2025-05-01T00:00:00.000Z",
          rolloutId: "llama-v3-9",
          version: "v3",
          stage: "Promote",
          status: "promoted",
          reason: "v3 promoted.",
        },
        { stableVersion: "v3", status: "promoted" },
      );
      const error = (await caught(prepare(rolloutInput(), deps))) as ManifestInvalid;
      expect(error).toBeInstanceOf(ManifestInvalid);
      expect(error.findings[0]).toMatchObject({ path: "version", code: "manifest.version-is-stable" });
      expect((await store.get("llama"))?.lock).toBeUndefined();
    });
  });

  describe("the manifest whose upload started the rollout", () => {
    const key = `${PREFIX}modelship.yaml`;
    const uploadedAs = (version: { versionId?: string; etag?: string }): ExecutionInput => {
      const input = rolloutInput();
      return { rollout: { ...input.rollout, source: { ...input.rollout.source, ...version } } };
    };

    it("is read by the version id of its upload, so a manifest uploaded over it meanwhile is not used", async () => {
      await objects.put(key, "format: gguf\nrollout: {steps: [10, 50]}\n");
      const uploaded = objects.versionOf(key);
      await objects.put(key, "format: gguf\nrollout: {steps: [99]}\n");
      const result = await prepare(uploadedAs({ versionId: uploaded?.versionId ?? "" }), deps);
      expect(result.manifest.rollout.steps.map((s) => s.weight)).toEqual([10, 50, 100]);
    });

    it("is read by its ETag when the bucket keeps no versions, and refused once it was replaced", async () => {
      await objects.put(key, "format: gguf\n");
      const uploaded = objects.versionOf(key);
      await objects.put(key, "format: gguf\nrollout: {steps: [99]}\n");
      const error = (await caught(
        prepare(uploadedAs({ etag: uploaded?.etag ?? "" }), deps),
      )) as ManifestInvalid;
      expect(error).toBeInstanceOf(ManifestInvalid);
      expect(error.reason).toBe(
        `The manifest ${key} in s3://memory-bucket is no longer the one whose upload started this rollout (ETag ${uploaded?.etag}): it was replaced since.`,
      );
      expect((await store.get("llama"))?.lock).toBeUndefined();
    });
  });

  describe("another rollout of the same model", () => {
    const holder = { rolloutId: "llama-v2-77777777", version: "v2", since: "2025-06-01T11:00:00.000Z" };

    beforeEach(async () => {
      await objects.put(`${PREFIX}modelship.yaml`, "");
      await store.acquireLock("llama", holder);
    });

    it("fails with RolloutInProgress naming the holder's version, rollout and since-when", async () => {
      const error = (await caught(prepare(rolloutInput(), deps))) as RolloutInProgress;
      expect(error).toBeInstanceOf(RolloutInProgress);
      expect(error.holder).toEqual(holder);
      expect(error.reason).toBe(
        "Model llama is already being rolled out: version v2 (rollout llama-v2-77777777) has held its lock since 2025-06-01T11:00:00.000Z.",
      );
      expect(error.hint).toBe(
        "Wait for that rollout to finish, then upload models/llama/v3/modelship.yaml again; or stop it with `modelship abort llama`.",
      );
    });

    it("emits Rollout Rejected and leaves the other rollout's lock and record alone", async () => {
      await caught(prepare(rolloutInput(), deps));
      expect(events.emitted.map((e) => [e.detailType, e.detail.error])).toEqual([
        ["Rollout Rejected", "RolloutInProgress"],
      ]);
      const record = await store.get("llama");
      expect(record?.lock).toEqual(holder);
      expect(record?.history).toEqual([]);
    });
  });
});
