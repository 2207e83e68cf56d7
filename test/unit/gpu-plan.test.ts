import { describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { type GpuPlanInput, planGpus } from "../../lib/core/weights/gpu-plan";

const GiB = 1024 ** 3;

/** Llama-3-8B in BF16: 8,030,261,248 parameters, 32 layers, 8 KV heads of 128. */
const llama3_8b: GpuPlanInput = {
  weightBytes: 16_060_522_496,
  shape: { layers: 32, heads: 32, kvHeads: 8, headDim: 128, hidden: 4096 },
  serving: { runtime: "vllm", gpus: "auto", maxModelLen: 8192, extraArgs: [] },
  gpu: DEFAULT_STACK_CONFIG.gpu,
};

/** Llama-3-70B in BF16: 80 layers, 8 KV heads of 128. */
const llama3_70b: GpuPlanInput = {
  ...llama3_8b,
  weightBytes: 141_125_877_760,
  shape: { layers: 80, heads: 64, kvHeads: 8, headDim: 128, hidden: 8192 },
};

const l4 = { ...DEFAULT_STACK_CONFIG.gpu, memoryGiB: 24 };

describe("GPU plan", () => {
  it("sizes the KV cache as 2 × layers × KV heads × head dim × 2 bytes × maxModelLen × concurrency", () => {
    const { plan } = planGpus(llama3_8b);
    expect(plan.kvCacheBytes).toBe(2 * 32 * 8 * 128 * 2 * 8192 * 16);
    expect(plan.kvCacheBytes).toBe(16 * GiB);
    expect(plan.explanation).toContain(
      "2 × 32 layers × 8 KV heads × 128 head dim × 2 bytes × 8192 tokens × 16 sequences",
    );
  });

  it("puts an 8B model on one 80 GiB GPU and on two 24 GiB GPUs", () => {
    const h100 = planGpus(llama3_8b);
    expect(h100.plan).toMatchObject({ gpus: 1, fits: true, gpuMemoryGiB: 80 });
    expect(h100.findings).toEqual([]);
    expect(h100.plan.totalBytes).toBe(
      h100.plan.weightBytes + h100.plan.kvCacheBytes + h100.plan.overheadBytes,
    );
    expect(planGpus({ ...llama3_8b, gpu: l4 }).plan.gpus).toBe(2);
  });

  it("rounds up to a power of two for tensor parallelism", () => {
    const { plan } = planGpus(llama3_70b);
    // 131 GiB of weights + 40 GiB of KV cache need more than two 72 GiB GPUs; three is not a TP size.
    expect(plan.gpus).toBe(4);
    expect(plan.explanation).toContain("→ 4 GPUs");
  });

  it("does not fit when more GPUs than a node has would be needed, and says what to do", () => {
    const { plan, findings } = planGpus({ ...llama3_70b, gpu: l4 });
    expect(plan.fits).toBe(false);
    expect(plan.gpus).toBe(16);
    expect(findings.map((f) => [f.severity, f.code])).toEqual([["error", "gpu.does-not-fit"]]);
    expect(findings[0]?.message).toContain("at most 8");
    expect(findings[0]?.hint).toContain("maxModelLen");
  });

  it("halves the KV cache with an FP8 KV cache", () => {
    const fp8 = planGpus({
      ...llama3_8b,
      serving: { ...llama3_8b.serving, extraArgs: ["--kv-cache-dtype", "fp8"] },
    });
    expect(fp8.plan.kvCacheBytes).toBe(8 * GiB);
    const inline = planGpus({
      ...llama3_8b,
      serving: { ...llama3_8b.serving, extraArgs: ["--kv-cache-dtype=fp8_e5m2"] },
    });
    expect(inline.plan.kvCacheBytes).toBe(8 * GiB);
  });

  it("keeps an explicit GPU count and warns when the KV cache will be short", () => {
    const { plan, findings } = planGpus({
      ...llama3_8b,
      serving: { ...llama3_8b.serving, gpus: 1 },
      gpu: l4,
    });
    expect(plan.gpus).toBe(1);
    expect(findings.map((f) => [f.severity, f.code])).toEqual([["warning", "gpu.kv-cache-short"]]);
    expect(findings[0]?.message).toMatch(/about \d+ sequence\(s\) of 8192 tokens, not the 16/);
  });

  it("refuses an explicit GPU count too small for the weights alone", () => {
    const { plan, findings } = planGpus({ ...llama3_70b, serving: { ...llama3_70b.serving, gpus: 1 } });
    expect(plan.fits).toBe(false);
    expect(findings.map((f) => [f.severity, f.code])).toEqual([["error", "gpu.weights-do-not-fit"]]);
  });

  it("warns when the attention heads do not split across the GPUs", () => {
    const { findings } = planGpus({
      ...llama3_8b,
      shape: { ...llama3_8b.shape, heads: 12 },
      serving: { ...llama3_8b.serving, gpus: 8 },
    });
    expect(findings.map((f) => f.code)).toEqual(["gpu.heads-not-divisible"]);
  });

  it("plans 0 GPUs for llama.cpp on GGUF, which runs on CPU, and explains why", () => {
    const { plan, findings } = planGpus({
      ...llama3_8b,
      weightBytes: 4_920_000_000,
      serving: { ...llama3_8b.serving, runtime: "llama.cpp" },
    });
    expect(plan).toMatchObject({ gpus: 0, fits: true });
    expect(plan.explanation).toContain("llama.cpp serves GGUF on CPU");
    expect(findings).toEqual([]);
  });

  it("counts weights and overhead only, with a warning, when the network's shape is unknown", () => {
    const { plan, findings } = planGpus({ ...llama3_8b, shape: {} });
    expect(plan.kvCacheBytes).toBe(0);
    expect(plan.gpus).toBe(1);
    expect(findings.map((f) => f.code)).toEqual(["gpu.kv-cache-unknown"]);
  });
});
