import { describe, expect, it } from "vitest";
import type { Finding } from "../../lib/core/findings";
import { GGUF_HEADER_CAP_BYTES, type GgufParseResult, parseGguf } from "../../lib/core/weights/gguf";
import {
  type GgufSpec,
  type GgufTensorSpec,
  type GgufValue,
  writeGguf,
} from "../../lib/core/weights/gguf-writer";
import { buildTinyLlamaGguf, tinyLlamaSpec } from "../../lib/examples/gguf-model";

const FILE = "models/tiny/v1/model.gguf";

function parsed(bytes: Uint8Array, fileSize = bytes.length) {
  const result = parseGguf(bytes, fileSize, FILE);
  if (result.kind !== "parsed") throw new Error(`expected a parsed result, got ${JSON.stringify(result)}`);
  return result;
}

const codes = (findings: readonly Finding[]) => findings.map((f) => f.code);
const finding = (findings: readonly Finding[], code: string) => findings.find((f) => f.code === code);

const str = (value: string): GgufValue => ({ type: "string", value });
const u32 = (value: number): GgufValue => ({ type: "u32", value });
const strings = (values: readonly string[]): GgufValue => ({
  type: "array",
  itemType: "string",
  items: values.map(str),
});
const f32 = (dims: number[]): GgufTensorSpec => ({ name: "t", dims, type: "F32" });

/** The smallest servable GGUF: architecture, context length, a three-token vocabulary, a template, one tensor. */
function minimalSpec(overrides: Partial<GgufSpec> = {}): GgufSpec {
  return {
    metadata: [
      ["general.architecture", str("llama")],
      ["llama.context_length", u32(128)],
      ["tokenizer.ggml.model", str("gpt2")],
      ["tokenizer.ggml.tokens", strings(["a", "b", "c"])],
      ["tokenizer.chat_template", str("{{ messages }}")],
    ],
    tensors: [{ name: "token_embd.weight", dims: [4, 3], type: "F32" }],
    ...overrides,
  };
}

const withMetadata = (metadata: GgufSpec["metadata"]) => minimalSpec({ metadata });
const withoutKeys = (...keys: string[]) =>
  withMetadata(minimalSpec().metadata.filter(([k]) => !keys.includes(k)));
const withTensors = (tensors: GgufTensorSpec[]) => minimalSpec({ tensors });

function indexOfBytes(haystack: Uint8Array, text: string): number {
  const needle = new TextEncoder().encode(text);
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error(`'${text}' not found`);
}

/** Where the bytes right after a length-prefixed name (a metadata key or a tensor name) start. */
const afterName = (bytes: Uint8Array, name: string) =>
  indexOfBytes(bytes, name) + new TextEncoder().encode(name).length;

function patchU64(bytes: Uint8Array, at: number, value: bigint): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setBigUint64(at, value, true);
  return copy;
}

function patchU32(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(at, value, true);
  return copy;
}

const U64_MAX = (1n << 64n) - 1n;

describe("parseGguf on a well-formed file", () => {
  it("reads back every metadata value, tensor and offset the writer wrote", () => {
    const spec = tinyLlamaSpec();
    const { info, findings } = parsed(writeGguf(spec));

    expect(findings).toEqual([]);
    expect(info.version).toBe(3);
    expect(Object.keys(info.metadata)).toEqual(spec.metadata.map(([key]) => key));
    for (const [key, value] of spec.metadata) expect(info.metadata[key], key).toEqual(plain(value));

    expect(info.tensors.map((t) => t.name)).toEqual(spec.tensors.map((t) => t.name));
    let offset = 0;
    for (const [i, tensor] of info.tensors.entries()) {
      const written = spec.tensors[i]!;
      expect(tensor).toEqual({
        name: written.name,
        dims: written.dims,
        type: "F32",
        offset,
        bytes: written.data!.length,
      });
      offset += Math.ceil(written.data!.length / 32) * 32;
    }
    expect(info.dataOffset % 32).toBe(0);
    expect(info.dataOffset + offset).toBe(writeGguf(spec).length);
  });

  it("counts parameters exactly and reports the model's shape", () => {
    const { info } = parsed(buildTinyLlamaGguf());

    expect(info.parameters).toBe(116_032);
    expect(info.dtypes).toEqual({ F32: 116_032 });
    expect(info.tensorDataBytes).toBe(116_032 * 4);
    expect(info.architecture).toBe("llama");
    expect(info.contextLength).toBe(256);
    expect(info.hyperparameters).toEqual({
      layers: 2,
      embedding: 64,
      headCount: 4,
      headCountKv: 4,
      vocabSize: 264,
    });
  });

  it("reads every metadata value type, nested arrays included", () => {
    const metadata: GgufSpec["metadata"] = [
      ...minimalSpec().metadata,
      ["t.u8", { type: "u8", value: 255 }],
      ["t.i8", { type: "i8", value: -128 }],
      ["t.u16", { type: "u16", value: 65_535 }],
      ["t.i16", { type: "i16", value: -32_768 }],
      ["t.u32", { type: "u32", value: 4_294_967_295 }],
      ["t.i32", { type: "i32", value: -2_147_483_648 }],
      ["t.f32", { type: "f32", value: 0.5 }],
      ["t.f64", { type: "f64", value: 1e300 }],
      ["t.bool", { type: "bool", value: true }],
      ["t.u64", { type: "u64", value: 1n << 40n }],
      ["t.u64.huge", { type: "u64", value: U64_MAX }],
      ["t.i64", { type: "i64", value: -(1n << 40n) }],
      ["t.i64.huge", { type: "i64", value: -(1n << 62n) }],
      ["t.string", str("héllo ✓")],
      [
        "t.nested",
        {
          type: "array",
          itemType: "array",
          items: [
            { type: "array", itemType: "u16", items: [{ type: "u16", value: 1 }] },
            { type: "array", itemType: "u16", items: [] },
          ],
        },
      ],
    ];
    const { info, findings } = parsed(writeGguf(withMetadata(metadata)));

    expect(info.metadata).toMatchObject({
      "t.u8": 255,
      "t.i8": -128,
      "t.u16": 65_535,
      "t.i16": -32_768,
      "t.u32": 4_294_967_295,
      "t.i32": -2_147_483_648,
      "t.f32": 0.5,
      "t.f64": 1e300,
      "t.bool": true,
      "t.u64": 2 ** 40,
      "t.u64.huge": "18446744073709551615",
      "t.i64": -(2 ** 40),
      "t.i64.huge": "-4611686018427387904",
      "t.string": "héllo ✓",
      "t.nested": [[1], []],
    });
    expect(codes(findings)).toEqual(["gguf.metadata.nested-array"]);
    expect(finding(findings, "gguf.metadata.nested-array")).toMatchObject({
      severity: "warning",
      path: "t.nested",
    });
  });

  it("summarizes a big vocabulary and long strings instead of copying them, but still counts the tokens", () => {
    const tokens = Array.from({ length: 5000 }, (_, i) => `token${i}`);
    const spec = minimalSpec({
      metadata: [
        ...withoutKeys("tokenizer.ggml.tokens").metadata,
        ["tokenizer.ggml.tokens", strings(tokens)],
        ["tokenizer.huggingface.json", str("x".repeat(200_000))],
      ],
      tensors: [{ name: "token_embd.weight", dims: [4, 5000], type: "F32" }],
    });
    const { info, findings } = parsed(writeGguf(spec));

    expect(findings).toEqual([]);
    expect(info.metadata["tokenizer.ggml.tokens"]).toEqual({
      type: "array",
      elementType: "string",
      length: 5000,
    });
    expect(info.metadata["tokenizer.huggingface.json"]).toEqual({ type: "string", length: 200_000 });
    expect(info.hyperparameters.vocabSize).toBe(5000);
  });

  it("sizes quantized tensors by ggml's block layouts and counts parameters per type", () => {
    const cases: [type: string, dims: number[], bytes: number][] = [
      ["F16", [10, 3], 60],
      ["BF16", [7], 14],
      ["Q4_0", [64], 2 * 18],
      ["Q8_0", [32, 2], 2 * 34],
      ["Q2_K", [256], 84],
      ["Q3_K", [256], 110],
      ["Q4_K", [512, 2], 4 * 144],
      ["Q5_K", [256], 176],
      ["Q6_K", [256], 210],
      ["IQ2_XXS", [256], 66],
      ["IQ1_M", [256], 56],
      ["IQ4_NL", [32], 18],
      ["IQ4_XS", [256], 136],
      ["TQ1_0", [256], 54],
      ["MXFP4", [32], 17],
      ["I32", [5], 20],
      ["F64", [2], 16],
    ];
    const tensors: GgufTensorSpec[] = cases.map(([type, dims], i) => ({ name: `t${i}`, dims, type }));
    const { info, findings } = parsed(writeGguf(withTensors(tensors)));

    expect(findings).toEqual([]);
    expect(info.tensors.map((t) => [t.type, t.dims, t.bytes])).toEqual(cases);
    expect(info.dtypes).toMatchObject({ Q4_K: 1024, F16: 30, Q8_0: 64 });
    expect(info.parameters).toBe(cases.reduce((sum, [, dims]) => sum + dims.reduce((a, b) => a * b, 1), 0));
  });

  it("lays the data out at general.alignment when the file sets it", () => {
    const spec = minimalSpec({
      metadata: [...minimalSpec().metadata, ["general.alignment", u32(64)]],
      tensors: [
        { name: "token_embd.weight", dims: [4, 3], type: "F32" },
        { name: "b", dims: [5], type: "F32" },
      ],
    });
    const { info, findings } = parsed(writeGguf(spec));

    expect(findings).toEqual([]);
    expect(info.alignment).toBe(64);
    expect(info.dataOffset % 64).toBe(0);
    expect(info.tensors.map((t) => t.offset)).toEqual([0, 64]);
  });

  it("reads GGUF version 2 like version 3", () => {
    expect(parsed(writeGguf(minimalSpec({ version: 2 })))).toMatchObject({
      info: { version: 2 },
      findings: [],
    });
  });

  it("does not ask a later shard of a split model for the model's metadata", () => {
    const { info, findings } = parsed(
      writeGguf({
        metadata: [
          ["split.no", { type: "u16", value: 1 }],
          ["split.count", { type: "u16", value: 3 }],
        ],
        tensors: [f32([8])],
      }),
    );
    expect(findings).toEqual([]);
    expect(info.split).toEqual({ index: 1, count: 3 });
  });
});

describe("parseGguf on a file that is not a servable GGUF", () => {
  it("says a file that does not start with GGUF is not a GGUF file", () => {
    const { info, findings } = parsed(new TextEncoder().encode("PK\u0003\u0004 a zip file, not a model"));
    expect(info.version).toBe(0);
    expect(findings).toEqual([
      expect.objectContaining({ code: "gguf.magic", severity: "error", file: FILE }),
    ]);
    expect(findings[0]!.message).toContain('"PK');
  });

  it("names GGUF version 1 and big-endian files as what they are", () => {
    const v1 = parsed(writeGguf(minimalSpec({ version: 1 }))).findings;
    const bigEndian = parsed(patchU32(writeGguf(minimalSpec()), 4, 0x03000000)).findings;

    expect(codes(v1)).toEqual(["gguf.version"]);
    expect(v1[0]!.message).toContain("version 1");
    expect(codes(bigEndian)).toEqual(["gguf.version"]);
    expect(bigEndian[0]!.message).toContain("big-endian");
  });

  it("reports a file cut off inside its header as truncated, with where it ends", () => {
    const bytes = buildTinyLlamaGguf();
    const cut = indexOfBytes(bytes, "tokenizer.ggml.merges") + 4;
    const { findings } = parsed(bytes.subarray(0, cut));

    expect(findings).toEqual([expect.objectContaining({ code: "gguf.truncated", severity: "error" })]);
    expect(findings[0]!.message).toContain(`the file is ${cut} bytes long`);
  });

  it("names the tensors whose data lies past the end of a truncated file", () => {
    const bytes = buildTinyLlamaGguf();
    const { findings } = parsed(bytes.subarray(0, bytes.length - 1000));

    expect(findings.map((f) => [f.code, f.tensor])).toEqual([["gguf.tensor.out-of-bounds", "output.weight"]]);
  });

  it("names a tensor whose offset is not aligned", () => {
    const spec = withTensors([
      { name: "token_embd.weight", dims: [4, 3], type: "F32" },
      { name: "bias", dims: [4], type: "F32", offset: 50 },
    ]);
    const { findings } = parsed(writeGguf(spec));
    expect(finding(findings, "gguf.tensor.misaligned")).toMatchObject({ tensor: "bias", severity: "error" });
    expect(finding(findings, "gguf.tensor.misaligned")!.message).toContain("50");
  });

  it("names both tensors whose data overlaps", () => {
    const spec = withTensors([
      { name: "token_embd.weight", dims: [4, 3], type: "F32" },
      { name: "second", dims: [16], type: "F32", offset: 64 },
      { name: "third", dims: [8], type: "F32", offset: 96 },
    ]);
    const { findings } = parsed(writeGguf(spec));

    const overlap = finding(findings, "gguf.tensor.overlap");
    expect(overlap).toMatchObject({ tensor: "third", severity: "error" });
    expect(overlap!.message).toContain("'second'");
  });

  it("refuses tensors stored out of header order, which llama.cpp cannot load", () => {
    const spec = withTensors([
      { name: "token_embd.weight", dims: [4, 3], type: "F32", offset: 32 },
      { name: "second", dims: [8], type: "F32", offset: 0 },
    ]);
    const { findings } = parsed(writeGguf(spec));
    expect(findings.map((f) => [f.code, f.tensor])).toEqual([
      ["gguf.tensor.unexpected-offset", "token_embd.weight"],
    ]);
  });

  it("reports duplicate tensor names, over-long names and shapes ggml cannot hold", () => {
    const spec = withTensors([
      { name: "token_embd.weight", dims: [4, 3], type: "F32" },
      { name: "token_embd.weight", dims: [4], type: "F32" },
      { name: "n".repeat(64), dims: [4], type: "F32" },
      { name: "negative", dims: [1n << 63n], type: "F32", data: new Uint8Array() },
      { name: "huge", dims: [1n << 32n, 1n << 32n], type: "F32", data: new Uint8Array() },
    ]);
    const { findings } = parsed(writeGguf(spec));

    expect(findings.map((f) => [f.code, f.tensor])).toEqual(
      expect.arrayContaining([
        ["gguf.tensor.duplicate", "token_embd.weight"],
        ["gguf.tensor.name-too-long", "n".repeat(64)],
        ["gguf.tensor.dim-negative", "negative"],
        ["gguf.tensor.too-many-elements", "huge"],
      ]),
    );
  });

  it("reports unknown and removed ggml types, and rows that are not whole blocks", () => {
    const spec = withTensors([
      { name: "token_embd.weight", dims: [4, 3], type: "F32" },
      { name: "mystery", dims: [32], type: 99 },
      { name: "repacked", dims: [32], type: 31 },
      { name: "ragged", dims: [100], type: "Q4_K" },
    ]);
    const { findings } = parsed(writeGguf(spec));

    expect(findings.map((f) => [f.code, f.tensor])).toEqual(
      expect.arrayContaining([
        ["gguf.tensor.type-unknown", "mystery"],
        ["gguf.tensor.type-removed", "repacked"],
        ["gguf.tensor.partial-block", "ragged"],
      ]),
    );
    expect(finding(findings, "gguf.tensor.type-removed")!.message).toContain("Q4_0_4_4");
    expect(finding(findings, "gguf.tensor.partial-block")!.message).toContain("256");
  });

  it("refuses a tensor with more than four dimensions", () => {
    const { findings } = parsed(writeGguf(withTensors([{ name: "5d", dims: [1, 1, 1, 1, 1], type: "F32" }])));
    expect(findings).toEqual([expect.objectContaining({ code: "gguf.tensor.dims", tensor: "5d" })]);
  });

  it("refuses an alignment that is not a power of two or not stored as u32", () => {
    for (const value of [u32(48), { type: "u64", value: 32 } as GgufValue, u32(0)]) {
      const spec = minimalSpec({
        metadata: [...minimalSpec().metadata, ["general.alignment", value]],
        alignment: 32,
      });
      const { findings } = parsed(writeGguf(spec));
      expect(codes(findings)).toEqual(["gguf.metadata.alignment"]);
    }
  });

  it("reports every missing piece of model metadata at once, the chat template as a warning", () => {
    const { findings } = parsed(writeGguf(withMetadata([])));

    expect(findings.map((f) => [f.severity, f.code, f.path])).toEqual([
      ["error", "gguf.metadata.architecture-missing", "general.architecture"],
      ["error", "gguf.tokenizer.missing", "tokenizer.ggml.model"],
      ["error", "gguf.tokenizer.tokens-missing", "tokenizer.ggml.tokens"],
      ["warning", "gguf.tokenizer.chat-template-missing", "tokenizer.chat_template"],
    ]);
    for (const f of findings) expect(f.hint).toBeTruthy();
  });

  it("asks for <arch>.context_length under the file's own architecture", () => {
    const { findings } = parsed(writeGguf(withoutKeys("llama.context_length")));
    expect(findings).toEqual([
      expect.objectContaining({ code: "gguf.metadata.context-length-missing", path: "llama.context_length" }),
    ]);
  });

  it("reports a vocabulary that does not match the embedding's rows", () => {
    const { findings } = parsed(
      writeGguf(withTensors([{ name: "token_embd.weight", dims: [4, 5], type: "F32" }])),
    );
    expect(findings).toEqual([
      expect.objectContaining({ code: "gguf.tokenizer.vocab-mismatch", tensor: "token_embd.weight" }),
    ]);
    expect(findings[0]!.message).toMatch(/3 tokens.*5 rows/);
  });

  it("reports duplicate and empty metadata keys, and keeps the first value", () => {
    const { info, findings } = parsed(
      writeGguf(
        withMetadata([...minimalSpec().metadata, ["general.architecture", str("other")], ["", u32(1)]]),
      ),
    );
    expect(codes(findings)).toEqual(["gguf.metadata.key-duplicate", "gguf.metadata.key-empty"]);
    expect(info.architecture).toBe("llama");
  });

  it("stops at a metadata value type GGUF does not define, naming the key", () => {
    const bytes = writeGguf(minimalSpec());
    const { findings } = parsed(patchU32(bytes, afterName(bytes, "llama.context_length"), 13));
    expect(findings).toEqual([
      expect.objectContaining({ code: "gguf.metadata.value-type", path: "llama.context_length" }),
    ]);
  });

  it("turns counts and lengths of 2^64 − 1 into findings, not allocations", () => {
    const bytes = writeGguf(minimalSpec());
    const tokens = afterName(bytes, "tokenizer.ggml.tokens");
    const cases: [Uint8Array, string][] = [
      [patchU64(bytes, 8, U64_MAX), "gguf.count"],
      [patchU64(bytes, 16, U64_MAX), "gguf.count"],
      [patchU64(bytes, 24, U64_MAX), "gguf.truncated"],
      [patchU64(bytes, afterName(bytes, "general.architecture") + 4, U64_MAX), "gguf.truncated"],
      [patchU64(bytes, tokens + 8, U64_MAX), "gguf.metadata.array-length"],
      [patchU64(bytes, afterName(bytes, "token_embd.weight") + 4, U64_MAX), "gguf.tensor.dim-negative"],
      [patchU32(bytes, afterName(bytes, "token_embd.weight"), 0xffffffff), "gguf.tensor.dims"],
    ];
    for (const [variant, code] of cases) {
      const result = parseGguf(variant, variant.length, FILE);
      expect(result.kind).toBe("parsed");
      expect(codes((result as Extract<GgufParseResult, { kind: "parsed" }>).findings)).toContain(code);
    }
  });
});

describe("parseGguf on a prefix of the file", () => {
  it("asks for more bytes when the prefix ends inside the header, never past the file", () => {
    const bytes = buildTinyLlamaGguf();
    for (const cut of [0, 3, 20, 1000, 6000]) {
      const result = parseGguf(bytes.subarray(0, cut), bytes.length, FILE);
      expect(result.kind).toBe("need-more");
      const { bytes: wanted } = result as Extract<GgufParseResult, { kind: "need-more" }>;
      expect(wanted).toBeGreaterThan(cut);
      expect(wanted).toBeLessThanOrEqual(bytes.length);
    }
  });

  it("parses a prefix that holds the whole header as it parses the whole file", () => {
    const bytes = buildTinyLlamaGguf();
    const whole = parsed(bytes);
    expect(parsed(bytes.subarray(0, whole.info.dataOffset), bytes.length)).toEqual(whole);
  });

  it("never asks for more than the header cap: a header that needs more is a finding", () => {
    const bytes = writeGguf(minimalSpec());
    const stringLength = afterName(bytes, "general.architecture") + 4;
    const huge = patchU64(bytes, stringLength, BigInt(GGUF_HEADER_CAP_BYTES) * 2n);
    const fileSize = 16 * GGUF_HEADER_CAP_BYTES;

    const { findings } = parsed(huge, fileSize);
    expect(codes(findings)).toEqual(["gguf.header.too-large"]);

    const big = parseGguf(patchU64(bytes, stringLength, 32n * 1024n * 1024n), fileSize, FILE);
    expect(big.kind).toBe("need-more");
    expect((big as Extract<GgufParseResult, { kind: "need-more" }>).bytes).toBeLessThanOrEqual(
      GGUF_HEADER_CAP_BYTES,
    );
  });

  it("reaches the end of a tiny model's header from a 4 KiB first read in two rounds", () => {
    const bytes = buildTinyLlamaGguf();
    const { rounds, result } = readLikeTheValidator(bytes, 4096);
    expect(result).toEqual(parsed(bytes));
    expect(rounds).toBeLessThanOrEqual(2);
  });

  it("reaches the end of a 128k-token, 280k-merge header from a 256 KiB or 1 MiB first read in at most three rounds", () => {
    const tokens = Array.from({ length: 128_256 }, (_, i) => `tok${i.toString(36)}`);
    const merges = Array.from({ length: 280_147 }, (_, i) => `m${(i % 997).toString(36)} n${i.toString(36)}`);
    const bytes = writeGguf(
      minimalSpec({
        metadata: [
          ["general.architecture", str("llama")],
          ["llama.context_length", u32(8192)],
          ["tokenizer.ggml.model", str("gpt2")],
          ["tokenizer.ggml.tokens", strings(tokens)],
          [
            "tokenizer.ggml.token_type",
            { type: "array", itemType: "i32", items: tokens.map(() => ({ type: "i32", value: 1 })) },
          ],
          ["tokenizer.ggml.merges", strings(merges)],
          ["tokenizer.chat_template", str("{{ messages }}")],
        ],
        tensors: Array.from({ length: 291 }, (_, i) => ({
          name: `blk.${i}.attn_q.weight`,
          dims: [8],
          type: "F32",
        })),
      }),
    );
    const whole = parsed(bytes);
    for (const firstRead of [256 * 1024, 1024 * 1024]) {
      const { rounds, result } = readLikeTheValidator(bytes, firstRead);
      expect(result).toEqual(whole);
      expect(rounds, `from ${firstRead} bytes`).toBeLessThanOrEqual(3);
    }
  });
});

/** Reads growing prefixes the way the Validate stage does, counting the reads. */
function readLikeTheValidator(bytes: Uint8Array, firstRead: number) {
  let prefix = bytes.subarray(0, firstRead);
  for (let rounds = 1; rounds <= 10; rounds++) {
    const result = parseGguf(prefix, bytes.length, FILE);
    if (result.kind === "parsed") return { rounds, result };
    prefix = bytes.subarray(0, result.bytes);
  }
  throw new Error("the parser kept asking for more bytes");
}

/** What the parser reports for a written value: plain JSON values, arrays of them. */
function plain(value: GgufValue): unknown {
  if (value.type === "array") return value.items.map(plain);
  if (value.type === "f32") return Math.fround(Number(value.value));
  if (typeof value.value === "bigint") return Number(value.value);
  return value.value;
}
