import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { ModelInvalid } from "../../lib/core/errors";
import { parseManifest, resolveManifest } from "../../lib/core/resolution/manifest";
import type { ResolvedManifest } from "../../lib/core/manifest/manifest-schema";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import {
  buildSafetensorsModel,
  EXAMPLE_DIMENSIONS,
  llamaTensorShapes,
  type ModelFiles,
  shardFileName,
} from "../../lib/examples/safetensors-model";
import { FIRST_READ_BYTES, validate, validateModel } from "../../lib/pipeline/validate";
import { MemoryObjectStore, sha256Hex } from "../support/memory-object-store";
import { editHeader, parseJsonBytes, truncate, withLengthPrefix } from "../support/model-mutations";

const PREFIX = "models/tiny/v1/";
const config = DEFAULT_STACK_CONFIG;
const SMALL_PARAMETERS = llamaTensorShapes(EXAMPLE_DIMENSIONS.small).reduce(
  (sum, t) => sum + t.shape.reduce((a, b) => a * b, 1),
  0,
);

function storeWith(files: ModelFiles, options: { checksums?: boolean } = {}): MemoryObjectStore {
  return new MemoryObjectStore().addFiles(PREFIX, files, options);
}

function manifestFrom(yaml: string): ResolvedManifest {
  const parsed = parseManifest(yaml, "modelship.yaml");
  expect(parsed.findings).toEqual([]);
  const resolved = resolveManifest(parsed.manifest!, { name: "tiny", version: "v1" }, config);
  expect(resolved.findings).toEqual([]);
  return resolved.manifest!;
}

function readsOf(store: MemoryObjectStore, path: string): { start: number; length: number }[] {
  return store.reads
    .filter((r) => r.key === `${PREFIX}${path}`)
    .map(({ start, length }) => ({ start, length }));
}

function codes(report: { findings: readonly { code: string }[] }): string[] {
  return report.findings.map((f) => f.code);
}

describe("Validate", () => {
  it("passes a generated single-file model, with its exact parameter count and one read of the weights", async () => {
    const store = storeWith(buildSafetensorsModel({ size: "small" }));
    const report = await validateModel(store, PREFIX, { config });
    expect(report.findings).toEqual([]);
    expect(report).toMatchObject({
      valid: true,
      format: "safetensors",
      architecture: "LlamaForCausalLM",
      parameters: SMALL_PARAMETERS,
      dtypes: { BF16: SMALL_PARAMETERS },
      location: `s3://memory-bucket/${PREFIX}`,
    });
    expect(readsOf(store, "model.safetensors")).toEqual([{ start: 0, length: FIRST_READ_BYTES }]);
    expect(report.bytesRead).toBeLessThan(report.weightBytes / 10);
    expect(report.gpu.gpus).toBe(1);
  });

  it("reads each shard once, and the small JSON files whole, counting every request", async () => {
    const files = buildSafetensorsModel({ shards: 3 });
    const store = storeWith(files);
    const report = await validateModel(store, PREFIX, { config });
    expect(report.findings).toEqual([]);
    const shards = [0, 1, 2].map((i) => shardFileName(i, 3));
    for (const shard of shards) expect(readsOf(store, shard)).toHaveLength(1);
    expect(report.files.filter((f) => f.format).map((f) => [f.path, f.requests])).toEqual(
      shards.map((s) => [s, 1]),
    );
    // list + 3 shards + config.json, the index and tokenizer_config.json
    expect(report.requests).toBe(7);
    const readWhole = [...shards, "config.json", "model.safetensors.index.json", "tokenizer_config.json"];
    expect(report.bytesRead).toBe(readWhole.reduce((sum, path) => sum + files.get(path)!.byteLength, 0));
  });

  it("never reads tokenizer.json: its presence is enough", async () => {
    const store = storeWith(buildSafetensorsModel());
    await validateModel(store, PREFIX, { config });
    expect(readsOf(store, "tokenizer.json")).toEqual([]);
  });

  it("reads a header longer than the first read whole, in a second request, so it is never held twice", async () => {
    const files = buildSafetensorsModel({ size: "small" });
    const big = editHeader(files.get("model.safetensors")!, (h) => {
      (h as Record<string, unknown>)["__metadata__"] = { format: "pt", notes: "x".repeat(FIRST_READ_BYTES) };
    });
    files.set("model.safetensors", big);
    const store = storeWith(files);
    const report = await validateModel(store, PREFIX, { config });
    expect(report.valid).toBe(true);
    const headerEnd = 8 + Number(new DataView(big.buffer).getBigUint64(0, true));
    expect(readsOf(store, "model.safetensors")).toEqual([
      { start: 0, length: FIRST_READ_BYTES },
      { start: 8, length: headerEnd - 8 },
    ]);
  });

  it("names a missing shard", async () => {
    const files = buildSafetensorsModel({ shards: 3 });
    files.delete(shardFileName(1, 3));
    const report = await validateModel(storeWith(files), PREFIX, { config });
    expect(report.valid).toBe(false);
    expect(report.findings.map((f) => [f.code, f.file])).toEqual([
      ["index.shard-missing", shardFileName(1, 3)],
    ]);
  });

  it("names the shard and the tensor whose offsets overlap", async () => {
    const files = buildSafetensorsModel({ shards: 2 });
    const shard = shardFileName(1, 2);
    files.set(
      shard,
      editHeader(files.get(shard)!, (h) => {
        const norm = h["model.norm.weight"]!.data_offsets as number[];
        h["model.norm.weight"]!.data_offsets = [norm[0]! - 2, norm[1]! - 2];
      }),
    );
    const report = await validateModel(storeWith(files), PREFIX, { config });
    const overlap = report.findings.find((f) => f.code === "safetensors.offsets.overlap");
    expect(overlap).toMatchObject({ severity: "error", file: shard, tensor: "model.norm.weight" });
  });

  it("reports every problem of a broken folder at once", async () => {
    const files = buildSafetensorsModel();
    files.set("model.safetensors", truncate(files.get("model.safetensors")!, 100));
    files.set("config.json", new TextEncoder().encode("{ not json"));
    files.delete("tokenizer.json");
    files.set("training_args.pkl", new Uint8Array([0x80, 0x04]));
    const report = await validateModel(storeWith(files), PREFIX, { config });
    expect(codes(report)).toEqual(
      expect.arrayContaining([
        "safetensors.offsets.out-of-bounds",
        "json.invalid",
        "tokenizer.missing",
        "model.pickle.ignored",
      ]),
    );
    expect(report.errors).toBe(report.findings.filter((f) => f.severity === "error").length);
    expect(report.findings[0]?.severity).toBe("error");
  });

  it("refuses a pickle checkpoint with no safetensors weights", async () => {
    const files = buildSafetensorsModel();
    files.delete("model.safetensors");
    files.set("pytorch_model.bin", new Uint8Array(64));
    const report = await validateModel(storeWith(files), PREFIX, { config });
    expect(codes(report)).toEqual(expect.arrayContaining(["model.no-weights", "model.pickle.refused"]));
  });

  it("refuses a folder without config.json and warns about a missing chat template", async () => {
    const files = buildSafetensorsModel();
    files.delete("config.json");
    const tokenizerConfig = parseJsonBytes(files.get("tokenizer_config.json"));
    delete tokenizerConfig["chat_template"];
    files.set("tokenizer_config.json", new TextEncoder().encode(JSON.stringify(tokenizerConfig)));
    const report = await validateModel(storeWith(files), PREFIX, { config });
    expect(report.findings.map((f) => [f.severity, f.code])).toEqual([
      ["error", "config.missing"],
      ["warning", "tokenizer.chat-template-missing"],
      ["warning", "gpu.kv-cache-unknown"],
    ]);
  });

  it("refuses an empty prefix", async () => {
    const report = await validateModel(new MemoryObjectStore(), PREFIX, { config });
    expect(codes(report)).toEqual(["model.empty"]);
    expect(report.findings[0]?.message).toContain(`s3://memory-bucket/${PREFIX}`);
  });

  it("refuses a maxModelLen beyond what config.json allows", async () => {
    const manifest = manifestFrom("serving:\n  maxModelLen: 32768\n");
    const report = await validateModel(storeWith(buildSafetensorsModel()), PREFIX, { config, manifest });
    expect(report.findings.map((f) => [f.code, f.path])).toEqual([
      ["serving.max-model-len", "serving.maxModelLen"],
    ]);
  });

  describe("against the manifest's files", () => {
    const files = buildSafetensorsModel();
    const weights = files.get("model.safetensors")!;
    const yaml = (sha256: string): string =>
      `files:\n${[...files].map(([path, bytes]) => `  - {path: ${path}, size: ${bytes.byteLength}${path === "model.safetensors" ? `, sha256: "${sha256}"` : ""}}`).join("\n")}\n`;

    it("checks a sha256 against the store's full-object checksum, with one head request", async () => {
      const store = storeWith(files);
      const report = await validateModel(store, PREFIX, {
        config,
        manifest: manifestFrom(yaml(sha256Hex(weights))),
      });
      expect(report.findings).toEqual([]);
      expect(report.requests).toBe(1 + 1 + 2 + 1);
    });

    it("names the file whose sha256 does not match", async () => {
      const manifest = manifestFrom(yaml("0".repeat(64)));
      const report = await validateModel(storeWith(files), PREFIX, { config, manifest });
      expect(report.findings.map((f) => [f.code, f.file])).toEqual([
        ["manifest.sha256-mismatch", "model.safetensors"],
      ]);
    });

    it("warns when the store has no checksum to compare", async () => {
      const manifest = manifestFrom(yaml(sha256Hex(weights)));
      const report = await validateModel(storeWith(files, { checksums: false }), PREFIX, {
        config,
        manifest,
      });
      expect(report.valid).toBe(true);
      expect(report.findings.map((f) => [f.severity, f.code])).toEqual([
        ["warning", "manifest.sha256-unchecked"],
      ]);
    });
  });

  describe("a GGUF model", () => {
    it("passes a generated GGUF served by llama.cpp on CPU", async () => {
      const store = new MemoryObjectStore().addFiles(PREFIX, new Map([["model.gguf", buildTinyLlamaGguf()]]));
      const manifest = manifestFrom("format: gguf\nserving:\n  runtime: llama.cpp\n  maxModelLen: 256\n");
      const report = await validateModel(store, PREFIX, { config, manifest });
      expect(report.findings).toEqual([]);
      expect(report).toMatchObject({ valid: true, format: "gguf", architecture: "llama" });
      expect(report.parameters).toBeGreaterThan(100_000);
      expect(report.gpu.gpus).toBe(0);
      expect(readsOf(store, "model.gguf")).toHaveLength(1);
    });

    it("reports a truncated GGUF file as findings", async () => {
      const gguf = buildTinyLlamaGguf();
      const store = new MemoryObjectStore().addFiles(PREFIX, new Map([["model.gguf", gguf.slice(0, 5000)]]));
      const report = await validateModel(store, PREFIX, { config });
      expect(report.valid).toBe(false);
      expect(report.findings.some((f) => f.file === "model.gguf" && f.severity === "error")).toBe(true);
    });
  });

  it("reads one bounded prefix of a file whose length prefix is 2^64−1", async () => {
    const files = buildSafetensorsModel({ size: "small" });
    files.set("model.safetensors", withLengthPrefix(files.get("model.safetensors")!, 2n ** 64n - 1n));
    const store = storeWith(files);
    const report = await validateModel(store, PREFIX, { config });
    expect(codes(report)).toContain("safetensors.header.too-large");
    expect(readsOf(store, "model.safetensors")).toEqual([{ start: 0, length: FIRST_READ_BYTES }]);
  });

  it("turns any corruption of the weights' first bytes into findings and never reads more than the file", async () => {
    const original = buildSafetensorsModel().get("model.safetensors")!;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: 4095 }), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat({ max: original.byteLength }),
        async (flips, cut) => {
          const mutated = truncate(original, cut);
          for (const [at, value] of flips) if (at < mutated.byteLength) mutated[at] = value;
          const files = buildSafetensorsModel();
          files.set("model.safetensors", mutated);
          const store = storeWith(files);
          const report = await validateModel(store, PREFIX, { config });
          const reads = readsOf(store, "model.safetensors");
          expect(reads.length).toBeLessThanOrEqual(2);
          const requested = reads.reduce((sum, r) => sum + r.length, 0);
          expect(requested).toBeLessThanOrEqual(Math.max(FIRST_READ_BYTES, mutated.byteLength));
          expect(report.valid || report.errors > 0).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("Validate stage", () => {
  const state = (manifest?: ResolvedManifest): ExecutionState => ({
    rollout: {
      id: "tiny-v1-0a1b2c3d",
      model: "tiny",
      version: "v1",
      source: { bucket: "memory-bucket", key: `${PREFIX}modelship.yaml`, prefix: PREFIX },
    },
    ...(manifest && { manifest }),
  });
  const clock = { now: () => new Date("2030-01-02T03:04:05Z") };
  const reportKey = "reports/tiny/v1/tiny-v1-0a1b2c3d/validation.json";

  it("returns a summary and writes the full report beside the rollout's other reports", async () => {
    const files = buildSafetensorsModel();
    for (let i = 0; i < 25; i++) files.set(`notes/${i}.txt`, new Uint8Array(1));
    const store = storeWith(files);
    const summary = await validate(state(), { objects: store, config, clock });
    expect(summary).toMatchObject({ valid: true, format: "safetensors", errors: 0, reportKey });
    expect(summary.findings).toHaveLength(20);
    const report = JSON.parse(store.text(reportKey)!) as {
      findings: unknown[];
      at: string;
      rolloutId: string;
    };
    expect(report.findings).toHaveLength(25);
    expect(report).toMatchObject({ at: "2030-01-02T03:04:05.000Z", rolloutId: "tiny-v1-0a1b2c3d" });
  });

  it("throws ModelInvalid carrying every error, after writing the report", async () => {
    const files = buildSafetensorsModel();
    files.delete("tokenizer.json");
    files.set("config.json", new TextEncoder().encode("[]"));
    const store = storeWith(files);
    const error = await validate(state(), { objects: store, config, clock }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelInvalid);
    const invalid = error as ModelInvalid;
    expect(invalid.name).toBe("ModelInvalid");
    expect(invalid.findings.map((f) => f.code).sort()).toEqual(["config.invalid", "tokenizer.missing"]);
    expect(invalid.hint).toContain(reportKey);
    expect(JSON.parse(store.text(reportKey)!)).toMatchObject({ valid: false, errors: 2 });
  });

  it("validates against the manifest the state carries", async () => {
    const store = storeWith(buildSafetensorsModel());
    const manifest = manifestFrom("serving:\n  runtime: llama.cpp\n");
    const error = await validate(state(manifest), { objects: store, config, clock }).catch((e: unknown) => e);
    expect((error as ModelInvalid).findings.map((f) => f.code)).toEqual(["serving.runtime-format"]);
  });
});
