// A tiny random-weights llama in GGUF that llama.cpp loads and runs: the test model of the local runtime,
// generated rather than downloaded. The layout is the one checked to load (shared/notes/tiny-gguf.md):
// architecture `llama`, F32 weights, a GPT-2 byte-level vocabulary with a few merges and ChatML control
// tokens, a ChatML chat template, norm weights of 1 and a separate output matrix at about 3/sqrt(embd)
// scale (a tied one makes sampling collapse to one token). Deterministic: the same seed gives the same bytes.

import { type GgufSpec, type GgufTensorSpec, type GgufValue, writeGguf } from "../core/weights/gguf-writer";
import { seededRandom } from "./seeded-random";

interface TinyLlamaOptions {
  /** Seeds the weights; default 1. */
  readonly seed?: number;
  /** `tiny` ≈ 116k parameters (embd 64, 2 layers); `small` ≈ 3.3M (embd 256, 4 layers). Default `tiny`. */
  readonly size?: "tiny" | "small";
}

interface Shape {
  readonly embedding: number;
  readonly layers: number;
  readonly feedForward: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly context: number;
}

const SHAPES: Record<"tiny" | "small", Shape> = {
  tiny: { embedding: 64, layers: 2, feedForward: 128, heads: 4, kvHeads: 4, context: 256 },
  small: { embedding: 256, layers: 4, feedForward: 768, heads: 8, kvHeads: 4, context: 512 },
};

const MERGES: readonly (readonly [string, string])[] = [
  ["Ġ", "t"],
  ["h", "e"],
  ["Ġt", "he"],
  ["i", "n"],
  ["Ġ", "a"],
];
const CONTROL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] as const;
const TOKEN_NORMAL = 1;
const TOKEN_CONTROL = 3;

const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export function buildTinyLlamaGguf(options: TinyLlamaOptions = {}): Uint8Array {
  return writeGguf(tinyLlamaSpec(options));
}

/** The description `buildTinyLlamaGguf` writes, for tests that compare against it or vary it. */
export function tinyLlamaSpec(options: TinyLlamaOptions = {}): GgufSpec {
  const shape = SHAPES[options.size ?? "tiny"];
  const random = seededRandom(options.seed ?? 1);
  const vocabulary = gpt2Vocabulary();
  const vocab = vocabulary.tokens.length;
  const { embedding: embd, feedForward: ffn } = shape;
  const headDim = embd / shape.heads;
  const kvDim = headDim * shape.kvHeads;

  const matrix = (
    name: string,
    cols: number,
    rows: number,
    amplitude = Math.sqrt(3 / cols),
  ): GgufTensorSpec => ({
    name,
    dims: [cols, rows],
    type: "F32",
    data: f32Bytes(cols * rows, () => (random() * 2 - 1) * amplitude),
  });
  const ones = (name: string): GgufTensorSpec => ({
    name,
    dims: [embd],
    type: "F32",
    data: f32Bytes(embd, () => 1),
  });

  const tensors: GgufTensorSpec[] = [matrix("token_embd.weight", embd, vocab, 1)];
  for (let layer = 0; layer < shape.layers; layer++) {
    const blk = `blk.${layer}`;
    tensors.push(
      ones(`${blk}.attn_norm.weight`),
      matrix(`${blk}.attn_q.weight`, embd, embd),
      matrix(`${blk}.attn_k.weight`, embd, kvDim),
      matrix(`${blk}.attn_v.weight`, embd, kvDim),
      matrix(`${blk}.attn_output.weight`, embd, embd),
      ones(`${blk}.ffn_norm.weight`),
      matrix(`${blk}.ffn_gate.weight`, embd, ffn),
      matrix(`${blk}.ffn_up.weight`, embd, ffn),
      matrix(`${blk}.ffn_down.weight`, ffn, embd),
    );
  }
  const output = matrix("output.weight", embd, vocab, 3 / Math.sqrt(embd));
  // Zero logits for the control tokens (the last ones): among ~260 random logits some are always positive,
  // so greedy decoding never ends a turn early and a generated model always writes up to max_tokens — the
  // smoke and stress tests then see the same amount of text on every CPU.
  output.data?.fill(0, (vocab - CONTROL_TOKENS.length) * embd * 4);
  tensors.push(ones("output_norm.weight"), output);

  const u32 = (value: number): GgufValue => ({ type: "u32", value });
  const f32 = (value: number): GgufValue => ({ type: "f32", value });
  const str = (value: string): GgufValue => ({ type: "string", value });
  const bool = (value: boolean): GgufValue => ({ type: "bool", value });
  const array = (itemType: "string" | "i32", items: readonly GgufValue[]): GgufValue => ({
    type: "array",
    itemType,
    items,
  });
  const bos = vocabulary.tokens.indexOf("<|endoftext|>");
  const eos = vocabulary.tokens.indexOf("<|im_end|>");

  return {
    metadata: [
      ["general.architecture", str("llama")],
      ["general.name", str(`modelship tiny llama (${options.size ?? "tiny"}, seed ${options.seed ?? 1})`)],
      ["general.alignment", u32(32)],
      ["general.file_type", u32(0)],
      ["llama.context_length", u32(shape.context)],
      ["llama.embedding_length", u32(embd)],
      ["llama.block_count", u32(shape.layers)],
      ["llama.feed_forward_length", u32(ffn)],
      ["llama.attention.head_count", u32(shape.heads)],
      ["llama.attention.head_count_kv", u32(shape.kvHeads)],
      ["llama.rope.dimension_count", u32(headDim)],
      ["llama.rope.freq_base", f32(10000)],
      ["llama.attention.layer_norm_rms_epsilon", f32(1e-5)],
      ["llama.vocab_size", u32(vocab)],
      ["tokenizer.ggml.model", str("gpt2")],
      ["tokenizer.ggml.pre", str("default")],
      ["tokenizer.ggml.tokens", array("string", vocabulary.tokens.map(str))],
      [
        "tokenizer.ggml.token_type",
        array(
          "i32",
          vocabulary.types.map((value) => ({ type: "i32", value })),
        ),
      ],
      [
        "tokenizer.ggml.merges",
        array(
          "string",
          MERGES.map(([a, b]) => str(`${a} ${b}`)),
        ),
      ],
      ["tokenizer.ggml.bos_token_id", u32(bos)],
      ["tokenizer.ggml.eos_token_id", u32(eos)],
      ["tokenizer.ggml.padding_token_id", u32(bos)],
      ["tokenizer.ggml.add_bos_token", bool(false)],
      ["tokenizer.ggml.add_eos_token", bool(false)],
      ["tokenizer.chat_template", str(CHATML_TEMPLATE)],
    ],
    tensors,
  };
}

/**
 * GPT-2's byte-level vocabulary: ids 0–255 are the printable characters GPT-2 maps each byte to, in byte
 * order; then the merged tokens; then the ChatML control tokens.
 */
function gpt2Vocabulary(): { tokens: string[]; types: number[] } {
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const tokens: string[] = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) tokens.push(String.fromCodePoint(printable(b) ? b : 256 + shifted++));
  tokens.push(...MERGES.map(([a, b]) => a + b), ...CONTROL_TOKENS);
  const types = tokens.map((_, id) =>
    id < tokens.length - CONTROL_TOKENS.length ? TOKEN_NORMAL : TOKEN_CONTROL,
  );
  return { tokens, types };
}

function f32Bytes(count: number, value: () => number): Uint8Array {
  const bytes = new Uint8Array(count * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < count; i++) view.setFloat32(i * 4, value(), true);
  return bytes;
}
