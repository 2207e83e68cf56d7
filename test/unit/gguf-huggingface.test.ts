import { gguf } from "@huggingface/gguf";
import { describe, expect, it } from "vitest";
import { parseGguf } from "../../lib/core/weights/gguf";
import { GGML_TYPE_BY_NAME } from "../../lib/core/weights/gguf-types";
import { writeGguf } from "../../lib/core/weights/gguf-writer";
import { buildTinyLlamaGguf, tinyLlamaSpec } from "../../lib/examples/gguf-model";

/** Serves `bytes` like an HTTP server answering range requests, so @huggingface/gguf reads them as a remote file. */
function rangeServer(bytes: Uint8Array): typeof fetch {
  return (async (_url: unknown, init?: RequestInit) => {
    const range = new Headers(init?.headers).get("range") ?? "";
    const [, first, last] = /bytes=(\d+)-(\d+)/.exec(range) ?? [];
    const start = Math.min(Number(first), bytes.length);
    const end = Math.min(Number(last), bytes.length - 1);
    return new Response(bytes.slice(start, end + 1), {
      status: 206,
      headers: { "content-range": `bytes ${start}-${end}/${bytes.length}` },
    });
  }) as typeof fetch;
}

const normalized = (value: unknown): unknown =>
  typeof value === "bigint" ? Number(value) : Array.isArray(value) ? value.map(normalized) : value;

async function expectSameReading(bytes: Uint8Array): Promise<void> {
  const ours = parseGguf(bytes, bytes.length, "model.gguf");
  if (ours.kind !== "parsed") throw new Error("expected a parsed result");
  const theirs = await gguf("https://models.test/model.gguf", {
    fetch: rangeServer(bytes),
    computeParametersCount: true,
  });

  expect(ours.findings).toEqual([]);
  expect(theirs.metadata.version).toBe(ours.info.version);
  expect(Number(theirs.metadata.tensor_count)).toBe(ours.info.tensors.length);
  expect(Number(theirs.metadata.kv_count)).toBe(Object.keys(ours.info.metadata).length);
  const theirMetadata = theirs.metadata as Record<string, unknown>;
  for (const [key, value] of Object.entries(ours.info.metadata)) {
    expect(normalized(theirMetadata[key]), key).toEqual(value);
  }
  expect(
    theirs.tensorInfos.map((t) => ({
      name: t.name,
      dims: t.shape.map(Number),
      typeId: t.dtype,
      offset: Number(t.offset),
    })),
  ).toEqual(
    ours.info.tensors.map((t) => ({
      name: t.name,
      dims: t.dims,
      typeId: GGML_TYPE_BY_NAME.get(t.type)?.id,
      offset: t.offset,
    })),
  );
  expect(Number(theirs.tensorDataOffset)).toBe(ours.info.dataOffset);
  expect(theirs.parameterCount).toBe(ours.info.parameters);
}

describe("parseGguf agrees with @huggingface/gguf", () => {
  it("on the tiny llama: header, every metadata value, tensor infos, data offset and parameter count", async () => {
    await expectSameReading(buildTinyLlamaGguf());
  });

  it("on the small llama, whose grouped-query attention gives k/v tensors their own shape", async () => {
    await expectSameReading(buildTinyLlamaGguf({ size: "small", seed: 7 }));
  });

  it("on quantized tensors, odd sizes and a 64-byte alignment", async () => {
    const spec = tinyLlamaSpec();
    await expectSameReading(
      writeGguf({
        metadata: [
          ...spec.metadata.filter(([key]) => key !== "general.alignment"),
          ["general.alignment", { type: "u32", value: 64 }],
        ],
        tensors: [
          spec.tensors[0]!,
          { name: "blk.0.attn_q.weight", dims: [512, 3], type: "Q4_K" },
          { name: "blk.0.attn_k.weight", dims: [64, 5], type: "Q8_0" },
          { name: "blk.0.attn_norm.weight", dims: [7], type: "F16" },
          { name: "blk.1.ffn_up.weight", dims: [256, 2], type: "IQ2_XXS" },
          { name: "blk.1.ffn_down.weight", dims: [256, 1, 2], type: "Q6_K" },
        ],
      }),
    );
  });
});
