// Generates a small, valid Hugging Face-layout llama model — config.json, a byte-level BPE tokenizer with
// a ChatML chat template, generation_config.json, and the weights as one model.safetensors or N shards with
// model.safetensors.index.json — deterministically from a seed. Tests build their fixtures from it (and
// corrupt them in memory); `modelship example` writes one to try the validator on.

import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { seededRandom } from "./seeded-random";

/** Relative path → bytes. A Map so tests can corrupt, drop or add files before use. */
export type ModelFiles = Map<string, Uint8Array>;

export interface LlamaDimensions {
  readonly vocabSize: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly intermediate: number;
  readonly maxPositionEmbeddings: number;
}

export interface TensorShape {
  readonly name: string;
  readonly shape: readonly number[];
}

export interface SafetensorsExampleOptions {
  /** Seeds the weights; the same seed gives the same bytes. Default 1. */
  readonly seed?: number;
  /** tiny ≈ 110k parameters, small ≈ 3M. Default tiny. */
  readonly size?: "tiny" | "small";
  /** 1 writes model.safetensors; more writes model-0000i-of-0000N.safetensors + the index. Default 1. */
  readonly shards?: number;
}

/** Token ids after the 256 byte tokens. */
const SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"] as const;
const VOCAB_SIZE = 256 + SPECIAL_TOKENS.length;

export const EXAMPLE_DIMENSIONS: Readonly<Record<"tiny" | "small", LlamaDimensions>> = {
  tiny: {
    vocabSize: VOCAB_SIZE,
    hidden: 64,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    intermediate: 128,
    maxPositionEmbeddings: 8192,
  },
  small: {
    vocabSize: VOCAB_SIZE,
    hidden: 256,
    layers: 4,
    heads: 8,
    kvHeads: 4,
    intermediate: 704,
    maxPositionEmbeddings: 8192,
  },
};

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** The tensors of a llama model in the order the network uses them (Hugging Face names, [out, in] shapes). */
export function llamaTensorShapes(d: LlamaDimensions): TensorShape[] {
  const headDim = d.hidden / d.heads;
  const tensors: TensorShape[] = [{ name: "model.embed_tokens.weight", shape: [d.vocabSize, d.hidden] }];
  for (let i = 0; i < d.layers; i++) {
    const p = `model.layers.${i}`;
    tensors.push(
      { name: `${p}.input_layernorm.weight`, shape: [d.hidden] },
      { name: `${p}.self_attn.q_proj.weight`, shape: [d.heads * headDim, d.hidden] },
      { name: `${p}.self_attn.k_proj.weight`, shape: [d.kvHeads * headDim, d.hidden] },
      { name: `${p}.self_attn.v_proj.weight`, shape: [d.kvHeads * headDim, d.hidden] },
      { name: `${p}.self_attn.o_proj.weight`, shape: [d.hidden, d.heads * headDim] },
      { name: `${p}.post_attention_layernorm.weight`, shape: [d.hidden] },
      { name: `${p}.mlp.gate_proj.weight`, shape: [d.intermediate, d.hidden] },
      { name: `${p}.mlp.up_proj.weight`, shape: [d.intermediate, d.hidden] },
      { name: `${p}.mlp.down_proj.weight`, shape: [d.hidden, d.intermediate] },
    );
  }
  tensors.push(
    { name: "model.norm.weight", shape: [d.hidden] },
    { name: "lm_head.weight", shape: [d.vocabSize, d.hidden] },
  );
  return tensors;
}

/** config.json of a LlamaForCausalLM with these dimensions, stored as bfloat16. */
export function llamaConfig(d: LlamaDimensions, extra: Readonly<Record<string, unknown>> = {}): object {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    attention_bias: false,
    attention_dropout: 0,
    bos_token_id: 256,
    eos_token_id: 258,
    hidden_act: "silu",
    hidden_size: d.hidden,
    initializer_range: 0.02,
    intermediate_size: d.intermediate,
    max_position_embeddings: d.maxPositionEmbeddings,
    mlp_bias: false,
    num_attention_heads: d.heads,
    num_hidden_layers: d.layers,
    num_key_value_heads: d.kvHeads,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: false,
    torch_dtype: "bfloat16",
    use_cache: true,
    vocab_size: d.vocabSize,
    ...extra,
  };
}

export interface HeaderTensor extends TensorShape {
  readonly dtype: string;
}

/**
 * The first bytes of a safetensors file holding these tensors in this order: the u64 length and the JSON
 * header, padded with spaces to a multiple of 8 as the reference writer does. Returns the bytes and the
 * size of the data region the header describes.
 */
export function encodeSafetensorsHeader(
  tensors: readonly HeaderTensor[],
  metadata: Readonly<Record<string, string>> = { format: "pt" },
): { bytes: Uint8Array; dataBytes: number } {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * bytesPerElement(t.dtype);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const bytes = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(padded), true);
  bytes.set(json, 8);
  return { bytes, dataBytes: offset };
}

function bytesPerElement(dtype: string): number {
  const sizes: Record<string, number> = { BF16: 2, F16: 2, F32: 4 };
  const size = sizes[dtype];
  if (size === undefined) throw new Error(`The example writer stores BF16, F16 or F32, not ${dtype}.`);
  return size;
}

/** A whole BF16 safetensors file: header plus seeded random data (norm weights are ones). */
function encodeBf16File(tensors: readonly TensorShape[], random: () => number): Uint8Array {
  const { bytes: header, dataBytes } = encodeSafetensorsHeader(tensors.map((t) => ({ ...t, dtype: "BF16" })));
  const file = new Uint8Array(header.byteLength + dataBytes);
  file.set(header, 0);
  const view = new DataView(file.buffer);
  const f32 = new DataView(new ArrayBuffer(4));
  let at = header.byteLength;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    const isNorm = t.name.endsWith("norm.weight");
    for (let i = 0; i < count; i++) {
      f32.setFloat32(0, isNorm ? 1 : (random() - 0.5) * 0.1);
      view.setUint16(at, f32.getUint16(0), true);
      at += 2;
    }
  }
  return file;
}

export function shardFileName(index: number, count: number): string {
  const pad = (n: number): string => String(n).padStart(5, "0");
  return `model-${pad(index + 1)}-of-${pad(count)}.safetensors`;
}

/** Builds the model folder in memory. */
export function buildSafetensorsModel(options: SafetensorsExampleOptions = {}): ModelFiles {
  const { seed = 1, size = "tiny", shards = 1 } = options;
  const dims = EXAMPLE_DIMENSIONS[size];
  const tensors = llamaTensorShapes(dims);
  if (!Number.isInteger(shards) || shards < 1 || shards > tensors.length) {
    throw new RangeError(`shards must be an integer from 1 to ${tensors.length}, not ${shards}.`);
  }
  const random = seededRandom(seed);
  const files: ModelFiles = new Map();
  const json = (value: unknown): Uint8Array =>
    new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);

  files.set("config.json", json(llamaConfig(dims)));
  files.set(
    "generation_config.json",
    json({ bos_token_id: 256, eos_token_id: 258, do_sample: true, temperature: 0.7, top_p: 0.9 }),
  );
  files.set("tokenizer.json", json(byteLevelTokenizer()));
  files.set("tokenizer_config.json", json(tokenizerConfig(dims.maxPositionEmbeddings)));
  files.set(
    "special_tokens_map.json",
    json({ bos_token: "<|endoftext|>", eos_token: "<|im_end|>", pad_token: "<|pad|>" }),
  );

  if (shards === 1) {
    files.set("model.safetensors", encodeBf16File(sortedByName(tensors), random));
    return files;
  }
  const groups = splitEvenly(tensors, shards);
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  groups.forEach((group, i) => {
    const name = shardFileName(i, shards);
    for (const t of group) {
      weightMap[t.name] = name;
      totalSize += t.shape.reduce((a, b) => a * b, 1) * 2;
    }
    files.set(name, encodeBf16File(sortedByName(group), random));
  });
  const sortedMap = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : 1)));
  files.set(
    "model.safetensors.index.json",
    json({ metadata: { total_size: totalSize }, weight_map: sortedMap }),
  );
  return files;
}

/** Writes the files under `dir` (created if needed). */
export async function writeModelFiles(dir: string, files: ModelFiles): Promise<void> {
  for (const [path, bytes] of files) {
    const target = join(dir, ...path.split("/"));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes);
  }
}

/** The safetensors writer orders a file's tensors by name. */
function sortedByName<T extends TensorShape>(tensors: readonly T[]): T[] {
  return [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Consecutive groups of about equal bytes, in network order, as save_pretrained's size budget makes them. */
function splitEvenly(tensors: readonly TensorShape[], count: number): TensorShape[][] {
  const elements = (t: TensorShape): number => t.shape.reduce((a, b) => a * b, 1);
  const target = tensors.reduce((sum, t) => sum + elements(t), 0) / count;
  const groups: TensorShape[][] = [[]];
  let inGroup = 0;
  tensors.forEach((t, i) => {
    const current = groups[groups.length - 1]!;
    const groupsToOpen = count - groups.length;
    // Open the next group when this one is full, or when every remaining tensor is needed to fill the rest.
    if (current.length > 0 && groupsToOpen > 0 && (inGroup >= target || tensors.length - i <= groupsToOpen)) {
      groups.push([t]);
      inGroup = elements(t);
    } else {
      current.push(t);
      inGroup += elements(t);
    }
  });
  return groups;
}

/** GPT-2's byte ↔ unicode mapping: printable bytes map to themselves, the rest to U+0100 upward. */
function byteToUnicode(): string[] {
  const printable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const chars: string[] = [];
  let next = 0;
  for (let b = 0; b < 256; b++) chars.push(String.fromCodePoint(printable(b) ? b : 256 + next++));
  return chars;
}

function byteLevelTokenizer(): object {
  const vocab: Record<string, number> = {};
  byteToUnicode().forEach((char, id) => (vocab[char] = id));
  SPECIAL_TOKENS.forEach((token, i) => (vocab[token] = 256 + i));
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, i) => ({
      id: 256 + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

function tokenizerConfig(maxLength: number): object {
  return {
    tokenizer_class: "PreTrainedTokenizerFast",
    bos_token: "<|endoftext|>",
    eos_token: "<|im_end|>",
    pad_token: "<|pad|>",
    model_max_length: maxLength,
    clean_up_tokenization_spaces: false,
    chat_template: CHATML_TEMPLATE,
    added_tokens_decoder: Object.fromEntries(
      SPECIAL_TOKENS.map((content, i) => [
        String(256 + i),
        { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true },
      ]),
    ),
  };
}
