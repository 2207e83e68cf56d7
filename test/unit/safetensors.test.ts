import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { safetensorsDtypeBits } from "../../lib/core/weights/dtypes";
import type { Finding } from "../../lib/core/findings";
import {
  locateSafetensorsHeader,
  MAX_SAFETENSORS_HEADER_BYTES,
  parseSafetensorsHeader,
  readHeaderLength,
  type SafetensorsParseResult,
} from "../../lib/core/weights/safetensors";
import {
  buildSafetensorsModel,
  EXAMPLE_DIMENSIONS,
  encodeSafetensorsHeader,
  llamaTensorShapes,
} from "../../lib/examples/safetensors-model";
import {
  editHeader,
  headerText,
  truncate,
  withHeaderText,
  withLengthPrefix,
} from "../support/model-mutations";

const FILE = "model.safetensors";

function validFile(): Uint8Array {
  return buildSafetensorsModel({ seed: 7 }).get(FILE)!;
}

/** What the stage does with a whole file in hand: locate the header, then parse it. */
function parseFile(file: Uint8Array): SafetensorsParseResult {
  const located = locateSafetensorsHeader(file.subarray(0, 256 * 1024), file.byteLength, FILE);
  if (!located.ok) return { findings: located.findings };
  return parseSafetensorsHeader(file.subarray(8, located.headerEnd), file.byteLength, FILE);
}

function codes(findings: readonly Finding[]): string[] {
  return findings.map((f) => f.code);
}

function only(findings: readonly Finding[], code: string): Finding {
  const matching = findings.filter((f) => f.code === code);
  expect(matching, `findings with code ${code} in ${JSON.stringify(findings)}`).toHaveLength(1);
  return matching[0]!;
}

/** A small file with hand-written tensor entries and exactly `dataBytes` bytes of data. */
function fileWithHeader(header: Record<string, unknown>, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  return out;
}

describe("safetensors header", () => {
  it("accepts a generated model and counts its parameters exactly, per dtype", () => {
    const expected = llamaTensorShapes(EXAMPLE_DIMENSIONS.tiny).reduce(
      (sum, t) => sum + t.shape.reduce((a, b) => a * b, 1),
      0,
    );
    const { header, findings } = parseFile(validFile());
    expect(findings).toEqual([]);
    expect(header?.parameters).toBe(expected);
    expect(header?.dtypes).toEqual({ BF16: expected });
    expect(header?.metadata).toEqual({ format: "pt" });
    expect(header?.tensors.map((t) => t.name)).toContain("model.layers.1.mlp.down_proj.weight");
  });

  it("counts the parameters of an 8B-sized tensor exactly without reading its data", () => {
    const { bytes, dataBytes } = encodeSafetensorsHeader([
      { name: "model.embed_tokens.weight", dtype: "BF16", shape: [128256, 4096] },
    ]);
    const { header, findings } = parseSafetensorsHeader(
      bytes.subarray(8),
      bytes.byteLength + dataBytes,
      FILE,
    );
    expect(findings).toEqual([]);
    expect(header?.parameters).toBe(525_336_576);
  });

  it("reads the length prefix as an unsigned 64-bit little-endian integer", () => {
    expect(readHeaderLength(new Uint8Array([1, 2, 0, 0, 0, 0, 0, 0]))).toBe(513n);
    expect(readHeaderLength(new Uint8Array(8).fill(0xff))).toBe(2n ** 64n - 1n);
    expect(readHeaderLength(new Uint8Array(7))).toBeUndefined();
  });

  it("refuses a length prefix of 2^64−1 as a finding, without allocating", () => {
    const file = withLengthPrefix(validFile(), 2n ** 64n - 1n);
    const located = locateSafetensorsHeader(file.subarray(0, 8), file.byteLength, FILE);
    expect(located.ok).toBe(false);
    const finding = only(located.ok ? [] : located.findings, "safetensors.header.too-large");
    expect(finding.message).toContain("18446744073709551615");
    expect(finding.message).toContain(String(MAX_SAFETENSORS_HEADER_BYTES));
  });

  it("refuses a header longer than the file", () => {
    const file = withLengthPrefix(validFile(), 10_000_000n);
    const finding = only(parseFile(file).findings, "safetensors.header.beyond-file");
    expect(finding.file).toBe(FILE);
    expect(finding.message).toMatch(/10000000 bytes.*only \d+ bytes follow/);
  });

  it("recognises a Git LFS pointer uploaded instead of the weights", () => {
    const pointer = new TextEncoder().encode(
      "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 4976698672\n",
    );
    const finding = parseFile(pointer).findings[0]!;
    expect(finding.severity).toBe("error");
    expect(finding.hint).toContain("git lfs pull");
  });

  it("refuses a file too short to hold the length prefix", () => {
    only(parseFile(new Uint8Array([1, 2, 3])).findings, "safetensors.truncated");
  });

  it.each([
    ["does not start with '{'", new TextEncoder().encode(' {"a": 1}'), /starting with '\{'/],
    ["is not UTF-8", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), /UTF-8/],
    ["is not JSON", new TextEncoder().encode("{not json"), /not valid JSON/],
    ["is a JSON object that ends early", new TextEncoder().encode('{"a": {'), /not valid JSON/],
  ])("reports a header that %s", (_, header, message) => {
    const finding = only(
      parseFile(withHeaderText(validFile(), header)).findings,
      "safetensors.header.invalid-json",
    );
    expect(finding.message).toMatch(message);
  });

  it("accepts a header padded with trailing spaces, as the reference writer pads it", () => {
    const file = withHeaderText(validFile(), `${headerText(validFile()).trimEnd()}       `);
    expect(headerText(file).endsWith("       ")).toBe(true);
    expect(parseFile(file).findings).toEqual([]);
  });

  it("names the metadata key whose value is not a string", () => {
    const file = editHeader(validFile(), (h) => {
      (h as Record<string, unknown>)["__metadata__"] = { format: "pt", step: 1000 };
    });
    const finding = only(parseFile(file).findings, "safetensors.metadata.invalid");
    expect(finding.path).toBe("__metadata__.step");
  });

  it("names the tensor with an unknown dtype and lists the known ones", () => {
    const file = editHeader(validFile(), (h) => {
      h["model.norm.weight"]!.dtype = "Q4_K";
    });
    const finding = only(parseFile(file).findings, "safetensors.dtype.unknown");
    expect(finding).toMatchObject({ file: FILE, tensor: "model.norm.weight" });
    expect(finding.message).toContain("Q4_K");
    expect(finding.hint).toContain("BF16");
  });

  it("names a dtype spelled like an object's own property (`__proto__`) as unknown, never as a crash", () => {
    // Found by the JSON-header fuzz below: the per-dtype counts were kept in a plain object.
    const file = editHeader(validFile(), (h) => {
      h["model.norm.weight"]!.dtype = "__proto__";
    });
    const finding = only(parseFile(file).findings, "safetensors.dtype.unknown");
    expect(finding).toMatchObject({ file: FILE, tensor: "model.norm.weight" });
  });

  it("names the tensor whose shape is not a list of non-negative integers", () => {
    const file = editHeader(validFile(), (h) => {
      h["model.norm.weight"]!.shape = [-64];
      h["lm_head.weight"]!.shape = [260, 64.5];
    });
    const findings = parseFile(file).findings.filter((f) => f.code === "safetensors.shape.invalid");
    expect(findings.map((f) => f.tensor).sort()).toEqual(["lm_head.weight", "model.norm.weight"]);
  });

  it("names the tensor whose offsets overlap and the tensor it overlaps", () => {
    const file = editHeader(validFile(), (h) => {
      const norm = h["model.norm.weight"]!.data_offsets as number[];
      h["model.norm.weight"]!.data_offsets = [norm[0]! - 2, norm[1]! - 2];
    });
    const finding = only(parseFile(file).findings, "safetensors.offsets.overlap");
    expect(finding.tensor).toBe("model.norm.weight");
    expect(finding.message).toMatch(/overlap 'model\.layers\.1\.self_attn\.v_proj\.weight'/);
  });

  it("names the tensor before which bytes belong to no tensor", () => {
    const file = fileWithHeader(
      {
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [2], data_offsets: [12, 20] },
      },
      20,
    );
    const finding = only(parseFile(file).findings, "safetensors.offsets.gap");
    expect(finding.tensor).toBe("b");
    expect(finding.message).toMatch(/Bytes 8–12.*after 'a'/);
  });

  it("names the tensor whose shape × dtype does not match its span", () => {
    const file = editHeader(validFile(), (h) => {
      h["model.norm.weight"]!.shape = [32];
    });
    const finding = only(parseFile(file).findings, "safetensors.size.mismatch");
    expect(finding.tensor).toBe("model.norm.weight");
    expect(finding.message).toContain("needs 64 bytes");
    expect(finding.message).toContain("span 128");
  });

  it("refuses bytes after the last tensor (a polyglot file)", () => {
    const file = validFile();
    const longer = new Uint8Array(file.byteLength + 100);
    longer.set(file);
    const finding = only(parseFile(longer).findings, "safetensors.data.trailing-bytes");
    expect(finding.message).toContain("last 100 bytes");
  });

  it("names the tensor that reaches past the end of a truncated file", () => {
    const findings = parseFile(truncate(validFile(), 10)).findings;
    const finding = only(findings, "safetensors.offsets.out-of-bounds");
    expect(finding.tensor).toBe("model.norm.weight");
    expect(codes(findings)).toEqual(["safetensors.offsets.out-of-bounds"]);
  });

  it("names a tensor declared twice", () => {
    const text =
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    const file = withHeaderText(fileWithHeader({}, 4), text);
    const finding = only(parseFile(file).findings, "safetensors.header.duplicate-key");
    expect(finding.tensor).toBe("a");
  });

  it("refuses offsets beyond 2^53 instead of rounding them", () => {
    const file = fileWithHeader({ a: { dtype: "U8", shape: [4], data_offsets: [0, 2 ** 60] } }, 4);
    const finding = only(parseFile(file).findings, "safetensors.offsets.invalid");
    expect(finding.tensor).toBe("a");
  });

  it("sizes sub-byte dtypes in bits and refuses a tensor that ends mid-byte", () => {
    expect(safetensorsDtypeBits("F4")).toBe(4);
    const ok = fileWithHeader({ a: { dtype: "F4", shape: [4], data_offsets: [0, 2] } }, 2);
    expect(parseFile(ok).findings).toEqual([]);
    const odd = fileWithHeader({ a: { dtype: "F4", shape: [3], data_offsets: [0, 2] } }, 2);
    expect(only(parseFile(odd).findings, "safetensors.shape.misaligned").tensor).toBe("a");
  });

  it("accepts empty tensors and scalars, as the format allows", () => {
    const file = fileWithHeader(
      {
        empty: { dtype: "F32", shape: [0, 16], data_offsets: [0, 0] },
        scalar: { dtype: "F32", shape: [], data_offsets: [0, 4] },
      },
      4,
    );
    const { header, findings } = parseFile(file);
    expect(findings).toEqual([]);
    expect(header?.parameters).toBe(1);
  });

  it("reports every broken tensor, not just the first", () => {
    const file = editHeader(validFile(), (h) => {
      h["model.norm.weight"]!.dtype = "F99";
      h["lm_head.weight"]!.shape = "big";
      h["model.embed_tokens.weight"]!.data_offsets = [5];
    });
    const found = parseFile(file).findings.map((f) => `${f.code} ${f.tensor}`);
    expect(found).toEqual(
      expect.arrayContaining([
        "safetensors.dtype.unknown model.norm.weight",
        "safetensors.shape.invalid lm_head.weight",
        "safetensors.offsets.invalid model.embed_tokens.weight",
      ]),
    );
  });

  it("lists 50 findings of a kind one by one and summarises the rest", () => {
    const header: Record<string, unknown> = {};
    for (let i = 0; i < 500; i++) header[`t${i}`] = { dtype: "X", shape: [1], data_offsets: [i, i + 1] };
    const findings = parseFile(fileWithHeader(header, 500)).findings;
    expect(findings.filter((f) => f.code === "safetensors.dtype.unknown")).toHaveLength(51);
    expect(findings.at(-1)?.message).toMatch(/^450 more findings/);
  });

  it("warns about a file that holds no tensors", () => {
    expect(codes(parseFile(fileWithHeader({ __metadata__: {} }, 0)).findings)).toEqual([
      "safetensors.no-tensors",
    ]);
  });
});

describe("safetensors header under fuzzing", () => {
  const FUZZ_RUNS = 300;

  it("turns random bytes into findings, never an exception", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const result = parseFile(bytes);
        expect(result.findings.length).toBeGreaterThan(0);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it("never lets any length prefix point past the file or the cap", () => {
    const file = validFile();
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (length) => {
        const mutated = withLengthPrefix(file, length);
        const located = locateSafetensorsHeader(mutated.subarray(0, 8), mutated.byteLength, FILE);
        if (located.ok) {
          expect(located.headerEnd).toBeLessThanOrEqual(mutated.byteLength);
          expect(located.headerLength).toBeLessThanOrEqual(MAX_SAFETENSORS_HEADER_BYTES);
        } else {
          expect(located.findings[0]?.severity).toBe("error");
        }
        parseFile(mutated);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it("turns bytes flipped anywhere in the header into findings, never an exception", () => {
    const file = validFile();
    const headerLength = Number(readHeaderLength(file));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: headerLength + 7 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        (flips) => {
          const mutated = file.slice();
          for (const [at, value] of flips) mutated[at] = value;
          const { findings } = parseFile(mutated);
          for (const f of findings) expect(f.file).toBe(FILE);
        },
      ),
      { numRuns: FUZZ_RUNS },
    );
  });

  it("finds an error in every truncation of a valid file", () => {
    const file = validFile();
    fc.assert(
      fc.property(fc.integer({ min: 1, max: file.byteLength }), (cut) => {
        const { findings } = parseFile(truncate(file, cut));
        expect(findings.some((f) => f.severity === "error")).toBe(true);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it("turns arbitrary JSON headers into findings, never an exception", () => {
    const entry = fc.record(
      {
        dtype: fc.oneof(fc.constantFrom("BF16", "F32", "F4", "I64", "bogus"), fc.anything()),
        shape: fc.oneof(fc.array(fc.integer({ min: -2, max: 1 << 20 }), { maxLength: 4 }), fc.anything()),
        data_offsets: fc.oneof(fc.tuple(fc.nat(), fc.nat()), fc.array(fc.double()), fc.anything()),
      },
      { requiredKeys: [] },
    );
    const header = fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(entry, fc.jsonValue()), {
      maxKeys: 6,
    });
    fc.assert(
      fc.property(header, fc.nat({ max: 4096 }), (value, dataBytes) => {
        const result = parseFile(fileWithHeader(value, dataBytes));
        expect(Array.isArray(result.findings)).toBe(true);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});
