import { describe, expect, it } from "vitest";
import { type GgufInfo, parseGguf } from "../../lib/core/weights/gguf";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";

function read(bytes: Uint8Array): GgufInfo {
  const result = parseGguf(bytes, bytes.length, "model.gguf");
  if (result.kind !== "parsed") throw new Error("expected a parsed result");
  expect(result.findings).toEqual([]);
  return result.info;
}

function weights(bytes: Uint8Array, info: GgufInfo, name: string): Float32Array {
  const tensor = info.tensors.find((t) => t.name === name)!;
  const view = new DataView(bytes.buffer, bytes.byteOffset + info.dataOffset + tensor.offset, tensor.bytes);
  return Float32Array.from({ length: tensor.bytes / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe("buildTinyLlamaGguf", () => {
  const tiny = buildTinyLlamaGguf();
  const info = read(tiny);

  it("writes the same bytes for the same seed and different weights for another", () => {
    expect(sameBytes(buildTinyLlamaGguf({ seed: 1 }), tiny)).toBe(true);
    const other = buildTinyLlamaGguf({ seed: 2 });
    expect(other.length).toBe(tiny.length);
    expect(sameBytes(other, tiny)).toBe(false);
  });

  it("is a 116k-parameter llama of about 470 KB: embedding 64, 2 blocks, F32", () => {
    expect(info.architecture).toBe("llama");
    expect(info.parameters).toBe(116_032);
    expect(info.dtypes).toEqual({ F32: 116_032 });
    expect(info.hyperparameters).toMatchObject({ layers: 2, embedding: 64, vocabSize: 264 });
    expect(tiny.length).toBeGreaterThan(460_000);
    expect(tiny.length).toBeLessThan(480_000);
  });

  it("has every tensor llama.cpp builds a llama from, in ggml order (innermost dimension first)", () => {
    const shapes = Object.fromEntries(info.tensors.map((t) => [t.name, t.dims]));
    const block = (n: number) => ({
      [`blk.${n}.attn_norm.weight`]: [64],
      [`blk.${n}.attn_q.weight`]: [64, 64],
      [`blk.${n}.attn_k.weight`]: [64, 64],
      [`blk.${n}.attn_v.weight`]: [64, 64],
      [`blk.${n}.attn_output.weight`]: [64, 64],
      [`blk.${n}.ffn_norm.weight`]: [64],
      [`blk.${n}.ffn_gate.weight`]: [64, 128],
      [`blk.${n}.ffn_up.weight`]: [64, 128],
      [`blk.${n}.ffn_down.weight`]: [128, 64],
    });
    expect(shapes).toEqual({
      "token_embd.weight": [64, 264],
      ...block(0),
      ...block(1),
      "output_norm.weight": [64],
      "output.weight": [64, 264],
    });
  });

  it("carries the hyperparameters llama.cpp reads for a llama", () => {
    expect(info.metadata).toMatchObject({
      "general.alignment": 32,
      "general.file_type": 0,
      "llama.context_length": 256,
      "llama.feed_forward_length": 128,
      "llama.rope.dimension_count": 16,
      "llama.rope.freq_base": 10_000,
      "llama.attention.layer_norm_rms_epsilon": Math.fround(1e-5),
      "llama.vocab_size": 264,
    });
  });

  it("has GPT-2's byte-level vocabulary with a few merges and ChatML control tokens", () => {
    const tokens = info.metadata["tokenizer.ggml.tokens"] as string[];
    const types = info.metadata["tokenizer.ggml.token_type"] as number[];
    expect(info.metadata["tokenizer.ggml.model"]).toBe("gpt2");
    expect(tokens).toHaveLength(264);
    expect([tokens[0], tokens[32], tokens[65], tokens[127], tokens[173], tokens[255]]).toEqual([
      "Ā",
      "Ġ",
      "A",
      "ġ",
      "Ń",
      "ÿ",
    ]);
    expect(new Set(tokens.slice(0, 256)).size).toBe(256);
    expect(info.metadata["tokenizer.ggml.merges"]).toContain("Ġt he");
    for (const merge of info.metadata["tokenizer.ggml.merges"] as string[]) {
      expect(tokens).toContain(merge.replace(" ", ""));
    }
    expect(tokens.slice(-3)).toEqual(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]);
    expect(types.slice(-4)).toEqual([1, 3, 3, 3]);
    expect(tokens[info.metadata["tokenizer.ggml.bos_token_id"] as number]).toBe("<|endoftext|>");
    expect(tokens[info.metadata["tokenizer.ggml.eos_token_id"] as number]).toBe("<|im_end|>");
    expect(info.metadata).toMatchObject({
      "tokenizer.ggml.add_bos_token": false,
      "tokenizer.ggml.add_eos_token": false,
    });
  });

  it("has a ChatML chat template", () => {
    const template = info.metadata["tokenizer.chat_template"] as string;
    expect(template).toContain(
      "'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>'",
    );
    expect(template).toContain("add_generation_prompt");
  });

  it("sets norm weights to 1 and a separate output matrix within 3/sqrt(embd)", () => {
    for (const name of ["blk.0.attn_norm.weight", "blk.1.ffn_norm.weight", "output_norm.weight"]) {
      expect(
        weights(tiny, info, name).every((w) => w === 1),
        name,
      ).toBe(true);
    }
    const output = weights(tiny, info, "output.weight");
    const embedding = weights(tiny, info, "token_embd.weight");
    const bound = 3 / Math.sqrt(64);
    expect(output.every((w) => Math.abs(w) <= bound)).toBe(true);
    expect(Math.max(...output.map(Math.abs))).toBeGreaterThan(bound / 2);
    expect(output.some((w, i) => w !== embedding[i])).toBe(true);
  });

  it("in the small size has a few million parameters and grouped-query attention", () => {
    const small = read(buildTinyLlamaGguf({ size: "small" }));
    expect(small.parameters).toBeGreaterThan(2_000_000);
    expect(small.parameters).toBeLessThan(5_000_000);
    expect(small.hyperparameters).toMatchObject({ layers: 4, embedding: 256, headCount: 8, headCountKv: 4 });
    expect(small.tensors.find((t) => t.name === "blk.0.attn_k.weight")!.dims).toEqual([256, 128]);
  });
});
