import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GGUF_HEADER_CAP_BYTES, type GgufParseResult, parseGguf } from "../../lib/core/weights/gguf";
import { type GgufSpec, type GgufValue, writeGguf } from "../../lib/core/weights/gguf-writer";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";

const FILE = "fuzz.gguf";
const U64_MAX = (1n << 64n) - 1n;

const str = (value: string): GgufValue => ({ type: "string", value });

/** A small file with one field of every kind the header has, so each byte offset lands in a different one. */
const everyKindSpec: GgufSpec = {
  metadata: [
    ["general.architecture", str("llama")],
    ["general.alignment", { type: "u32", value: 32 }],
    ["llama.context_length", { type: "u64", value: 4096n }],
    ["t.small", { type: "i8", value: -1 }],
    ["t.half", { type: "u16", value: 7 }],
    ["t.float", { type: "f32", value: 0.25 }],
    ["t.double", { type: "f64", value: 0.125 }],
    ["t.flag", { type: "bool", value: true }],
    ["t.signed", { type: "i64", value: -5n }],
    ["tokenizer.ggml.model", str("gpt2")],
    ["tokenizer.ggml.tokens", { type: "array", itemType: "string", items: ["a", "b", "c"].map(str) }],
    [
      "t.nested",
      {
        type: "array",
        itemType: "array",
        items: [{ type: "array", itemType: "i16", items: [{ type: "i16", value: 3 }] }],
      },
    ],
    ["tokenizer.chat_template", str("{{ messages }}")],
  ],
  tensors: [
    { name: "token_embd.weight", dims: [4, 3], type: "F32" },
    { name: "blk.0.attn_q.weight", dims: [256, 2], type: "Q4_K" },
    { name: "blk.0.attn_norm.weight", dims: [5], type: "F16" },
  ],
};
const everyKind = writeGguf(everyKindSpec);
const tinyLlama = buildTinyLlamaGguf();

function headerEnd(bytes: Uint8Array): number {
  const result = parseGguf(bytes, bytes.length, FILE);
  if (result.kind !== "parsed") throw new Error("the fixture does not parse");
  return result.info.dataOffset;
}

/** What must hold for every input: an answer, bounded by the input, serializable as the execution state is. */
function expectBounded(result: GgufParseResult, prefix: Uint8Array, fileSize: number): void {
  if (result.kind === "need-more") {
    expect(Number.isSafeInteger(result.bytes)).toBe(true);
    expect(result.bytes).toBeGreaterThan(Math.min(prefix.length, fileSize));
    expect(result.bytes).toBeLessThanOrEqual(Math.min(fileSize, GGUF_HEADER_CAP_BYTES));
    return;
  }
  expect(result.findings.filter((f) => f.code === "gguf.unreadable")).toEqual([]);
  expect(JSON.stringify(result).length).toBeLessThan(4 * prefix.length + 64 * 1024);
}

function parseAndCheck(prefix: Uint8Array, fileSize: number): GgufParseResult {
  const result = parseGguf(prefix, fileSize, FILE);
  expectBounded(result, prefix, fileSize);
  return result;
}

/** Feeds growing prefixes as the Validate stage would; every round must ask for strictly more. */
function readToTheEnd(bytes: Uint8Array, firstRead: number): Extract<GgufParseResult, { kind: "parsed" }> {
  let prefix = bytes.subarray(0, firstRead);
  for (;;) {
    const result = parseAndCheck(prefix, bytes.length);
    if (result.kind === "parsed") return result;
    prefix = bytes.subarray(0, result.bytes);
  }
}

describe("parseGguf on damaged input", () => {
  it("answers every truncation of the header: findings for a file cut there, more bytes for a prefix cut there", () => {
    const end = headerEnd(everyKind);
    const whole = parseGguf(everyKind, everyKind.length, FILE);
    let firstParsed: number | undefined;
    for (let cut = 0; cut < end + 64; cut++) {
      const cutFile = parseAndCheck(everyKind.subarray(0, cut), cut);
      expect(cutFile.kind, `file cut at ${cut}`).toBe("parsed");
      const errors = (cutFile as Extract<GgufParseResult, { kind: "parsed" }>).findings.filter(
        (f) => f.severity === "error",
      );
      expect(errors.length, `file cut at ${cut}`).toBeGreaterThan(0);

      const prefix = parseAndCheck(everyKind.subarray(0, cut), everyKind.length);
      if (prefix.kind === "parsed") {
        firstParsed ??= cut;
        expect(prefix, `prefix cut at ${cut}`).toEqual(whole);
      } else {
        expect(
          firstParsed,
          `prefix cut at ${cut} asked for more after an earlier prefix parsed`,
        ).toBeUndefined();
      }
    }
    // The last tensor info ends within the padding before the data section.
    expect(firstParsed).toBeGreaterThan(end - 32);
    expect(firstParsed).toBeLessThanOrEqual(end);
  });

  it("turns random byte flips in the header into findings, never a throw", () => {
    for (const fixture of [everyKind, tinyLlama]) {
      const end = headerEnd(fixture);
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat(end - 1), fc.integer({ min: 0, max: 255 })), {
            minLength: 1,
            maxLength: 8,
          }),
          fc.integer({ min: 0, max: end }),
          (flips, firstRead) => {
            const bytes = fixture.slice();
            for (const [at, value] of flips) bytes[at] = value;
            parseAndCheck(bytes, bytes.length);
            readToTheEnd(bytes, firstRead);
          },
        ),
        { numRuns: 200 },
      );
    }
  });

  it("turns extreme counts, lengths and dimensions anywhere in the header into findings", () => {
    const end = headerEnd(everyKind);
    const extremes = [
      U64_MAX,
      1n << 63n,
      (1n << 63n) - 1n,
      1n << 53n,
      1n << 32n,
      (1n << 32n) - 1n,
      1n << 26n,
      0n,
    ];
    fc.assert(
      fc.property(fc.nat(end - 8), fc.constantFrom(...extremes), fc.boolean(), (at, value, wide) => {
        const bytes = everyKind.slice();
        const view = new DataView(bytes.buffer);
        if (wide) view.setBigUint64(at, value, true);
        else view.setUint32(at, Number(value & 0xffffffffn), true);
        parseAndCheck(bytes, bytes.length);
        parseAndCheck(bytes.subarray(0, at + 8), 2 ** 40);
      }),
      { numRuns: 500 },
    );
  });

  it("answers arbitrary bytes claiming any file size, with or without a GGUF preamble", () => {
    const preamble = everyKind.subarray(0, 24);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.boolean(),
        fc.nat(2 ** 40),
        (noise, withPreamble, extra) => {
          const prefix = withPreamble ? new Uint8Array([...preamble, ...noise]) : noise;
          parseAndCheck(prefix, prefix.length);
          parseAndCheck(prefix, prefix.length + extra);
        },
      ),
      { numRuns: 500 },
    );
  });
});
