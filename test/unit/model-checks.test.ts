import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Finding } from "../../lib/core/findings";
import {
  checkConfig,
  checkDuplicateTensors,
  checkManifestFiles,
  checkServingFit,
  checkShardIndex,
  checkTokenizer,
  type StoredFile,
  type TensorLocation,
} from "../../lib/core/weights/model-checks";
import { type ListedFile, planModelFolder } from "../../lib/core/weights/model-files";
import { parseJsonFile, readShardIndexFile } from "../../lib/core/weights/model-json-files";
import { EXAMPLE_DIMENSIONS, llamaConfig, llamaTensorShapes } from "../../lib/examples/safetensors-model";

function listed(...paths: string[]): ListedFile[] {
  return paths.map((path) => ({ path, size: 100 }));
}

function byCode(findings: readonly Finding[], code: string): Finding[] {
  return findings.filter((f) => f.code === code);
}

describe("Model folder layout", () => {
  it("infers safetensors from the files and picks the top-level shards as weights", () => {
    const plan = planModelFolder(
      listed("config.json", "model-00002-of-00002.safetensors", "model-00001-of-00002.safetensors"),
    );
    expect(plan.format).toBe("safetensors");
    expect(plan.weights.map((f) => f.path)).toEqual([
      "model-00002-of-00002.safetensors",
      "model-00001-of-00002.safetensors",
    ]);
    expect(plan.findings).toEqual([]);
  });

  it("refuses a pickle checkpoint when there are no safetensors weights", () => {
    const plan = planModelFolder(listed("config.json", "pytorch_model.bin", "optimizer.pt"));
    expect(byCode(plan.findings, "model.pickle.refused").map((f) => f.file)).toEqual([
      "pytorch_model.bin",
      "optimizer.pt",
    ]);
    expect(byCode(plan.findings, "model.no-weights")).toHaveLength(1);
    expect(byCode(plan.findings, "model.pickle.refused")[0]?.hint).toContain("safe_serialization");
  });

  it("only warns about pickles that sit beside safetensors weights, which serving loads instead", () => {
    const plan = planModelFolder(
      listed("model.safetensors", "pytorch_model.bin", "original/consolidated.00.pth"),
    );
    expect(plan.findings.map((f) => [f.severity, f.code, f.file])).toEqual([
      ["warning", "model.pickle.ignored", "pytorch_model.bin"],
      ["warning", "model.pickle.ignored", "original/consolidated.00.pth"],
    ]);
  });

  it("refuses a folder that holds both formats unless the manifest chooses", () => {
    const files = listed("model.safetensors", "model.gguf");
    expect(byCode(planModelFolder(files).findings, "model.format.ambiguous")).toHaveLength(1);
    const chosen = planModelFolder(files, "gguf");
    expect(chosen.format).toBe("gguf");
    expect(chosen.findings.map((f) => [f.severity, f.code])).toEqual([
      ["warning", "model.format.ignored-files"],
    ]);
  });

  it("refuses a folder with no weights at all", () => {
    const plan = planModelFolder(listed("config.json", "tokenizer.json"));
    expect(plan.format).toBeUndefined();
    expect(plan.findings.map((f) => f.code)).toEqual(["model.no-weights"]);
  });

  it("says when the manifest's format has no weights in the folder", () => {
    const plan = planModelFolder(listed("model.safetensors"), "gguf");
    expect(byCode(plan.findings, "model.no-weights")[0]?.message).toContain("format gguf");
  });

  it("accepts a complete GGUF split set and refuses unrelated GGUF files side by side", () => {
    expect(planModelFolder(listed("m-00001-of-00002.gguf", "m-00002-of-00002.gguf")).findings).toEqual([]);
    expect(
      byCode(planModelFolder(listed("m-q4.gguf", "m-q8.gguf")).findings, "gguf.several-files"),
    ).toHaveLength(1);
    expect(
      byCode(
        planModelFolder(listed("m-00001-of-00003.gguf", "m-00002-of-00003.gguf")).findings,
        "gguf.several-files",
      ),
    ).toHaveLength(1);
  });

  it("sums up hidden files such as a .git folder in one note", () => {
    const plan = planModelFolder(
      listed("model.safetensors", ".gitattributes", ".git/HEAD", ".git/lfs/objects/ab/cd"),
    );
    expect(plan.findings.map((f) => [f.severity, f.code, f.message])).toEqual([
      ["info", "model.file.hidden", "2 hidden file(s) (names starting with '.') are not used for serving."],
    ]);
  });

  it("mentions files serving does not use, as information only", () => {
    const plan = planModelFolder(
      listed("model.safetensors", "README.md", "notes.txt", "onnx/model.safetensors"),
    );
    expect(plan.findings.map((f) => [f.severity, f.code, f.file])).toEqual([
      ["info", "model.file.unknown", "notes.txt"],
      ["info", "model.file.not-served", "onnx/model.safetensors"],
    ]);
  });
});

describe("Shard index", () => {
  const shards = new Map([
    ["model-00001-of-00002.safetensors", ["a", "b"]],
    ["model-00002-of-00002.safetensors", ["c"]],
  ]);
  const files = [...shards.keys()];
  const dataBytes = new Map(files.map((f) => [f, 10]));
  const index = (weightMap: Record<string, string>, totalSize = 20): unknown => ({
    metadata: { total_size: totalSize },
    weight_map: weightMap,
  });
  /** The index written as JSON, read back from its bytes as Validate reads it, and checked. */
  const check = (idx: unknown, listedFiles = files): Finding[] => {
    const read = readShardIndexFile(
      new TextEncoder().encode(JSON.stringify(idx)),
      "model.safetensors.index.json",
    );
    expect(read.findings).toEqual([]);
    return checkShardIndex(read.index!, "model.safetensors.index.json", shards, listedFiles, dataBytes);
  };
  const complete = {
    a: "model-00001-of-00002.safetensors",
    b: "model-00001-of-00002.safetensors",
    c: "model-00002-of-00002.safetensors",
  };

  it("accepts an index that matches its shards", () => {
    expect(check(index(complete))).toEqual([]);
  });

  it("names the tensor the index puts in the wrong shard, and where it really is", () => {
    const findings = check(index({ ...complete, c: "model-00001-of-00002.safetensors" }, 10));
    expect(findings.map((f) => [f.code, f.file, f.tensor])).toEqual([
      ["index.shard-unreferenced", "model-00002-of-00002.safetensors", undefined],
      ["index.tensor-not-in-shard", "model-00001-of-00002.safetensors", "c"],
    ]);
    expect(findings[1]?.message).toContain("but it is in model-00002-of-00002.safetensors");
  });

  it("names a shard the index needs but the folder lacks", () => {
    const findings = check(index({ ...complete, d: "model-00003-of-00003.safetensors" }));
    expect(findings.map((f) => [f.code, f.file])).toEqual([
      ["index.shard-missing", "model-00003-of-00003.safetensors"],
    ]);
  });

  it("names a shard in the folder that the index never references, and the tensors it leaves out", () => {
    const findings = check(index({ a: complete.a, b: complete.b }, 10));
    expect(findings.map((f) => [f.code, f.file, f.tensor])).toEqual([
      ["index.shard-unreferenced", "model-00002-of-00002.safetensors", undefined],
      ["index.tensor-unlisted", "model-00002-of-00002.safetensors", "c"],
    ]);
  });

  it("names a tensor listed in the index that no shard declares", () => {
    const findings = check(index({ ...complete, ghost: "model-00002-of-00002.safetensors" }));
    expect(findings.map((f) => [f.code, f.tensor])).toEqual([["index.tensor-not-in-shard", "ghost"]]);
  });

  it("warns when total_size does not add up", () => {
    expect(check(index(complete, 999)).map((f) => [f.severity, f.code])).toEqual([
      ["warning", "index.total-size"],
    ]);
  });

  it("refuses an index without a weight_map", () => {
    expect(check({ metadata: {} }).map((f) => f.code)).toEqual(["index.invalid"]);
  });

  it("names a tensor stored in two shards", () => {
    const findings = checkDuplicateTensors(
      new Map([
        ["model-00001-of-00002.safetensors", ["a", "b"]],
        ["model-00002-of-00002.safetensors", ["b"]],
      ]),
    );
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ file: "model-00002-of-00002.safetensors", tensor: "b" });
    expect(findings[0]?.message).toContain("model-00001-of-00002.safetensors");
  });
});

describe("config.json against the tensors", () => {
  const dims = EXAMPLE_DIMENSIONS.tiny;
  const tensors = (): Map<string, TensorLocation> =>
    new Map(llamaTensorShapes(dims).map((t) => [t.name, { file: "model.safetensors", shape: t.shape }]));

  it("accepts a matching config and returns the shape GPU sizing needs", () => {
    const { shape, findings } = checkConfig(llamaConfig(dims), tensors());
    expect(findings).toEqual([]);
    expect(shape).toEqual({
      architecture: "LlamaForCausalLM",
      layers: 2,
      hidden: 64,
      heads: 4,
      kvHeads: 2,
      headDim: 16,
      vocabSize: 260,
      contextLength: 8192,
    });
  });

  it("names the embedding whose rows disagree with vocab_size", () => {
    const { findings } = checkConfig(llamaConfig(dims, { vocab_size: 32000 }), tensors());
    expect(findings.map((f) => [f.code, f.tensor])).toEqual([
      ["config.vocab-size", "model.embed_tokens.weight"],
      ["config.vocab-size", "lm_head.weight"],
    ]);
    expect(findings[0]?.message).toBe("The tensor has 260 rows, but config.json says vocab_size = 32000.");
  });

  it("names the embedding whose columns disagree with hidden_size", () => {
    const { findings } = checkConfig(llamaConfig(dims, { hidden_size: 4096 }), tensors());
    expect(byCode(findings, "config.hidden-size").map((f) => f.tensor)).toEqual([
      "model.embed_tokens.weight",
      "lm_head.weight",
    ]);
  });

  it("says which layers are missing when num_hidden_layers promises more", () => {
    const { findings } = checkConfig(llamaConfig(dims, { num_hidden_layers: 4 }), tensors());
    const [finding] = byCode(findings, "config.num-hidden-layers");
    expect(finding?.message).toContain("layers 2, 3 are missing");
  });

  it("says which layers are beyond num_hidden_layers", () => {
    const { findings } = checkConfig(llamaConfig(dims, { num_hidden_layers: 1 }), tensors());
    expect(byCode(findings, "config.num-hidden-layers")[0]?.message).toContain("layers 1 are beyond it");
  });

  it("requires architectures", () => {
    const config = { ...(llamaConfig(dims) as Record<string, unknown>), architectures: [] };
    expect(byCode(checkConfig(config, tensors()).findings, "config.architectures")).toHaveLength(1);
  });

  it("reads the text model's sizes from text_config in a multimodal config", () => {
    const config = {
      architectures: ["LlavaForConditionalGeneration"],
      text_config: { vocab_size: 260, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4 },
    };
    const { shape, findings } = checkConfig(config, tensors());
    expect(findings).toEqual([]);
    expect(shape).toMatchObject({ layers: 2, kvHeads: 4, headDim: 16 });
  });

  it("refuses a config that is not an object", () => {
    expect(checkConfig([1, 2], tensors()).findings.map((f) => f.code)).toEqual(["config.invalid"]);
  });

  it("turns malformed JSON into a finding that names the file", () => {
    const result = parseJsonFile(new TextEncoder().encode('{"vocab_size": 1,'), "config.json");
    expect(result.value).toBeUndefined();
    expect(result.findings[0]).toMatchObject({ code: "json.invalid", file: "config.json" });
  });
});

describe("Tokenizer files", () => {
  it("accepts tokenizer.json with a chat template in tokenizer_config.json", () => {
    expect(
      checkTokenizer(new Set(["tokenizer.json", "tokenizer_config.json"]), { chat_template: "{{x}}" }),
    ).toEqual([]);
  });

  it("accepts a SentencePiece tokenizer.model with its tokenizer_config.json and a chat_template.jinja", () => {
    expect(
      checkTokenizer(new Set(["tokenizer.model", "tokenizer_config.json", "chat_template.jinja"]), {}),
    ).toEqual([]);
  });

  it("refuses a folder without a tokenizer", () => {
    const findings = checkTokenizer(new Set(["tokenizer.model"]), undefined);
    expect(findings[0]).toMatchObject({ severity: "error", code: "tokenizer.missing" });
    expect(findings[0]?.message).toContain("tokenizer_config.json is not");
  });

  it("warns that chat requests fail without a chat template", () => {
    const findings = checkTokenizer(new Set(["tokenizer.json", "tokenizer_config.json"]), {
      chat_template: "",
    });
    expect(findings.map((f) => [f.severity, f.code, f.file])).toEqual([
      ["warning", "tokenizer.chat-template-missing", "tokenizer_config.json"],
    ]);
  });
});

describe("Manifest files against the store", () => {
  const bytes = new TextEncoder().encode("weights");
  const hex = createHash("sha256").update(bytes).digest("hex");
  const base64 = createHash("sha256").update(bytes).digest("base64");
  const stored = (file: Partial<StoredFile> = {}): Map<string, StoredFile> =>
    new Map([["model.safetensors", { path: "model.safetensors", size: 7, ...file }]]);

  it("matches size and a full-object SHA-256", () => {
    const findings = checkManifestFiles(
      [{ path: "model.safetensors", size: 7, sha256: hex }],
      stored({ checksumSha256: base64, checksumType: "FULL_OBJECT" }),
    );
    expect(findings).toEqual([]);
  });

  it("names a file whose checksum differs", () => {
    const findings = checkManifestFiles(
      [{ path: "model.safetensors", size: 7, sha256: "0".repeat(64) }],
      stored({ checksumSha256: base64, checksumType: "FULL_OBJECT" }),
    );
    expect(findings[0]).toMatchObject({ code: "manifest.sha256-mismatch", file: "model.safetensors" });
    expect(findings[0]?.message).toContain(hex);
  });

  it("warns that a composite or missing checksum cannot be compared", () => {
    for (const file of [{ checksumSha256: base64, checksumType: "COMPOSITE" as const }, {}]) {
      const findings = checkManifestFiles(
        [{ path: "model.safetensors", size: 7, sha256: hex }],
        stored(file),
      );
      expect(findings.map((f) => [f.severity, f.code])).toEqual([["warning", "manifest.sha256-unchecked"]]);
    }
  });

  it("names missing files, wrong sizes and files the manifest does not declare", () => {
    const findings = checkManifestFiles(
      [
        { path: "model.safetensors", size: 8 },
        { path: "config.json", size: 10 },
      ],
      new Map([
        ...stored(),
        ["extra.txt", { path: "extra.txt", size: 1 }],
        ["modelship.yaml", { path: "modelship.yaml", size: 1 }],
      ]),
    );
    expect(findings.map((f) => [f.code, f.file])).toEqual([
      ["manifest.file-size", "model.safetensors"],
      ["manifest.file-missing", "config.json"],
      ["manifest.file-undeclared", "extra.txt"],
    ]);
  });

  it("checks nothing when the manifest declares no files", () => {
    expect(checkManifestFiles([], stored())).toEqual([]);
  });
});

describe("Serving fit", () => {
  it("refuses llama.cpp for safetensors weights", () => {
    const findings = checkServingFit(
      { runtime: "llama.cpp", maxModelLen: 100 },
      "safetensors",
      4096,
      "config.json",
    );
    expect(findings.map((f) => f.code)).toEqual(["serving.runtime-format"]);
  });

  it("refuses a maxModelLen beyond the model's context on vLLM and warns on llama.cpp", () => {
    const vllm = checkServingFit({ runtime: "vllm", maxModelLen: 8192 }, "safetensors", 4096, "config.json");
    expect(vllm.map((f) => [f.severity, f.code])).toEqual([["error", "serving.max-model-len"]]);
    expect(vllm[0]?.hint).toContain("maxModelLen: 4096");
    const llama = checkServingFit({ runtime: "llama.cpp", maxModelLen: 8192 }, "gguf", 256, "model.gguf");
    expect(llama.map((f) => [f.severity, f.file])).toEqual([["warning", "model.gguf"]]);
  });
});
