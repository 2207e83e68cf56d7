// Links in the local bucket, read by every stage the same way: Prepare, Validate and DeployCandidate see a
// version folder through the bucket's folder store, so a GGUF linked out of the bucket is refused by name in
// each (it used to pass Validate, then DeployCandidate found "no .gguf file"), and one linked inside the
// bucket is validated and served — by the real llama.cpp server, which is stopped after the test.

import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { CandidateFailed, ManifestInvalid } from "../../lib/core/errors";
import { loadManifest } from "../../lib/core/resolution/manifest";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { FolderObjectStore } from "../../lib/local/folder-object-store";
import { LocalServing } from "../../lib/local/local-serving";
import { prepare } from "../../lib/pipeline/prepare";
import { validateModel } from "../../lib/pipeline/validate";
import type { CandidateSpec } from "../../lib/ports";
import { llamaCandidateSpec } from "../support/candidate-spec";
import { FixedClock } from "../support/fixed-clock";
import { MemoryEvents } from "../support/memory-events";
import { MemoryRolloutStore } from "../support/memory-rollout-store";
import { isRunning } from "../support/process-alive";

let work: string;
let bucket: string;
let outside: string;
let serving: LocalServing;
const pids: number[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-links-"));
  bucket = join(work, "bucket");
  outside = join(work, "outside");
  await mkdir(outside, { recursive: true });
  await writeFile(join(outside, "tiny.gguf"), buildTinyLlamaGguf());
  serving = new LocalServing({ home: join(work, ".modelship"), config: DEFAULT_STACK_CONFIG });
});

afterEach(async () => {
  await serving.stopAll();
  for (const pid of pids.splice(0)) expect(isRunning(pid), `pid ${pid} is still running`).toBe(false);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A version folder in the bucket whose model.gguf is a link to `target`, plus a manifest. */
async function versionWithLink(version: string, target: string): Promise<string> {
  const prefix = `models/tiny/${version}/`;
  await mkdir(join(bucket, prefix), { recursive: true });
  await symlink(target, join(bucket, prefix, "model.gguf"));
  await writeFile(join(bucket, prefix, "modelship.yaml"), MANIFEST);
  return prefix;
}

const MANIFEST = "format: gguf\nserving: {runtime: llama.cpp, maxModelLen: 256}\n";

/** Validate on the version folder in the bucket, with its manifest, as the stage runs it. */
async function validateVersion(version: string, prefix: string) {
  const { manifest } = loadManifest(
    MANIFEST,
    { name: "tiny", version, fileName: "modelship.yaml" },
    DEFAULT_STACK_CONFIG,
  );
  return validateModel(new FolderObjectStore(bucket), prefix, { manifest, config: DEFAULT_STACK_CONFIG });
}

/** The llama.cpp candidate DeployCandidate would ask for, for the version at `prefix` in the bucket. */
function spec(version: string, prefix: string): CandidateSpec {
  return llamaCandidateSpec({
    model: "tiny",
    version,
    rolloutId: `tiny-${version}-0123abcd`,
    servedName: "tiny",
    runtime: "llama.cpp",
    image: "ghcr.io/ggml-org/llama.cpp:server",
    gpus: 0,
    maxModelLen: 256,
    format: "gguf",
    weights: { bucket, prefix },
    weightBytes: 0,
  });
}

describe("a GGUF linked in the local bucket", () => {
  it("is refused by Validate and by DeployCandidate alike when it leads out of the bucket, naming the link", async () => {
    const prefix = await versionWithLink("v1", join(outside, "tiny.gguf"));

    const report = await validateVersion("v1", prefix);
    expect(report.valid).toBe(false);
    expect(report.findings).toContainEqual(
      expect.objectContaining({ code: "model.file.link-outside", file: "model.gguf" }),
    );
    expect(report.bytesRead).toBe(0);

    const deployed = serving.deploy(spec("v1", prefix));
    await expect(deployed).rejects.toBeInstanceOf(CandidateFailed);
    await expect(deployed).rejects.toThrow(
      `models/tiny/v1/model.gguf: A symbolic link to "${join(outside, "tiny.gguf")}" whose real path is outside ${bucket}`,
    );
  });

  it("is validated and served when its real path stays inside the bucket", async () => {
    await mkdir(join(bucket, "blobs"), { recursive: true });
    await writeFile(join(bucket, "blobs", "tiny.gguf"), buildTinyLlamaGguf());
    const prefix = await versionWithLink("v2", "../../../blobs/tiny.gguf");

    const report = await validateVersion("v2", prefix);
    expect(report.findings.filter((f) => f.severity === "error")).toEqual([]);
    expect(report.format).toBe("gguf");

    const handle = await serving.deploy(spec("v2", prefix));
    pids.push(handle.details?.["pid"] as number);
    await vi.waitFor(
      async () => {
        const status = await serving.status(handle);
        if (status.phase !== "ready") throw new Error(`still ${JSON.stringify(status)}`);
      },
      { timeout: 30_000, interval: 100 },
    );
  });
});

describe("Prepare in the local bucket", () => {
  /** Prepare of `version`, whose manifest is at `prefix` in the bucket, as its upload's event names it. */
  async function prepareVersion(version: string, prefix: string) {
    const objects = new FolderObjectStore(bucket);
    const key = `${prefix}modelship.yaml`;
    const deps = {
      objects,
      store: new MemoryRolloutStore(),
      events: new MemoryEvents(),
      clock: new FixedClock("2025-06-01T12:00:00.000Z"),
      config: DEFAULT_STACK_CONFIG,
    };
    const etag = (await objects.head(key))?.etag ?? "none";
    const input = {
      rollout: {
        id: `tiny-${version}-0a1b2c3d`,
        model: "tiny",
        version,
        source: { bucket, key, prefix, etag },
      },
    };
    return { deps, failed: prepare(input, deps) };
  }

  it("fails with ManifestInvalid naming a manifest linked out of the bucket, and reads nothing through it", async () => {
    const prefix = "models/tiny/v3/";
    await mkdir(join(bucket, prefix), { recursive: true });
    await writeFile(join(outside, "modelship.yaml"), "format: gguf\n");
    await symlink(join(outside, "modelship.yaml"), join(bucket, prefix, "modelship.yaml"));

    const { deps, failed } = await prepareVersion("v3", prefix);

    await expect(failed).rejects.toBeInstanceOf(ManifestInvalid);
    await expect(failed).rejects.toMatchObject({
      findings: [expect.objectContaining({ code: "model.file.link-outside", file: "modelship.yaml" })],
    });
    expect(deps.events.emitted.map((e) => e.detailType)).toEqual(["Rollout Rejected"]);
  });

  it("names an eval suite and a prompt set linked out of the bucket as unusable, as it names a missing one", async () => {
    const prefix = "models/tiny/v4/";
    await mkdir(join(bucket, prefix), { recursive: true });
    await mkdir(join(bucket, "evals"), { recursive: true });
    await mkdir(join(bucket, "prompts"), { recursive: true });
    await writeFile(join(outside, "secret.jsonl"), '{"id": "q1", "question": "root:x:0:0"}\n');
    await symlink(join(outside, "secret.jsonl"), join(bucket, "evals", "linked.jsonl"));
    await symlink(join(outside, "secret.jsonl"), join(bucket, "prompts", "linked.jsonl"));
    await writeFile(
      join(bucket, prefix, "modelship.yaml"),
      "format: gguf\ngates:\n  eval: {suites: [{name: linked, minScore: 0.5}]}\n  stress: {prompts: linked}\n",
    );

    const { failed } = await prepareVersion("v4", prefix);

    await expect(failed).rejects.toBeInstanceOf(ManifestInvalid);
    await expect(failed).rejects.toMatchObject({
      findings: [
        expect.objectContaining({ code: "model.file.link-outside", file: "evals/linked.jsonl" }),
        expect.objectContaining({ code: "model.file.link-outside", file: "prompts/linked.jsonl" }),
      ],
    });
    await expect(failed).rejects.not.toThrow("root:x");
  });
});
