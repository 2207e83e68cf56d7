// How many GPUs a model needs to serve: weight memory + the KV cache for `maxModelLen` tokens at the stack's
// default concurrency + runtime overhead, against one GPU's memory × the utilization the server may take,
// rounded up to a power of two because tensor parallelism splits the model across 1, 2, 4, 8 … GPUs.

import type { GpuConfig } from "../config/config";
import type { Finding } from "../findings";
import type { ModelShape } from "./model-checks";

export interface GpuPlan {
  readonly weightBytes: number;
  readonly kvCacheBytes: number;
  readonly overheadBytes: number;
  readonly totalBytes: number;
  /** GPUs needed, a power of two (tensor parallelism), or 0 for CPU runtimes. */
  readonly gpus: number;
  readonly gpuMemoryGiB: number;
  /** How the numbers were reached, in a sentence. */
  readonly explanation: string;
  /** False when even maxPerNode GPUs are not enough. */
  readonly fits: boolean;
}

const GiB = 1024 ** 3;

/**
 * Per GPU: the CUDA context (~0.5 GiB), captured CUDA graphs and communication buffers (~0.5–1 GiB), as
 * vLLM's startup log reports them for 7–70B models.
 */
const OVERHEAD_PER_GPU_BYTES = 1.5 * GiB;
/** Peak activations of the profiling forward pass and allocator fragmentation grow with the model. */
const OVERHEAD_WEIGHT_FRACTION = 0.1;
/** vLLM serves 16-bit activations and KV cache unless told otherwise; llama.cpp's KV cache is F16. */
const DEFAULT_KV_ELEMENT_BYTES = 2;
const MAX_SEARCHED_GPUS = 1 << 16;

export interface GpuPlanInput {
  /** Bytes of tensor data the server loads. */
  readonly weightBytes: number;
  readonly shape: ModelShape;
  readonly serving: {
    readonly runtime: "vllm" | "llama.cpp";
    readonly gpus: "auto" | number;
    readonly maxModelLen: number;
    readonly extraArgs: readonly string[];
  };
  readonly gpu: GpuConfig;
}

export function planGpus(input: GpuPlanInput): { plan: GpuPlan; findings: Finding[] } {
  const { weightBytes, shape, serving, gpu } = input;
  const findings: Finding[] = [];
  const kv = kvCachePerReplica(input);
  if (!kv) {
    findings.push({
      severity: "warning",
      code: "gpu.kv-cache-unknown",
      message:
        "The KV cache could not be sized: the model's layer count, KV heads or head size are unknown; the GPU plan counts weights and overhead only.",
      hint: "Upload config.json with num_hidden_layers, num_attention_heads and hidden_size (or head_dim).",
    });
  }
  const perGpuUsable = gpu.memoryGiB * GiB * gpu.utilization;
  const usableText = `one ${gpu.memoryGiB} GiB GPU at ${Math.round(gpu.utilization * 100)}% utilization holds ${gib(perGpuUsable)}`;
  const needFor = (gpus: number): { kvBytes: number; overheadBytes: number; total: number } => {
    const kvBytes = kv ? kv.bytes * kvReplication(gpus, shape.kvHeads) : 0;
    const overheadBytes = Math.round(
      Math.max(1, gpus) * OVERHEAD_PER_GPU_BYTES + OVERHEAD_WEIGHT_FRACTION * weightBytes,
    );
    return { kvBytes, overheadBytes, total: weightBytes + kvBytes + overheadBytes };
  };
  const describe = (need: ReturnType<typeof needFor>): string =>
    `weights ${gib(weightBytes)} + KV cache ${gib(need.kvBytes)}${kv ? ` (${kv.formula})` : " (not sized)"}` +
    ` + overhead ${gib(need.overheadBytes)} (1.5 GiB per GPU for the CUDA context and graphs + 10% of the weights for activations)` +
    ` = ${gib(need.total)}`;

  if (serving.runtime === "llama.cpp" && serving.gpus === "auto") {
    const need = needFor(0);
    return {
      plan: {
        weightBytes,
        kvCacheBytes: need.kvBytes,
        overheadBytes: need.overheadBytes,
        totalBytes: need.total,
        gpus: 0,
        gpuMemoryGiB: gpu.memoryGiB,
        fits: true,
        explanation: `${describe(need)} of host memory: llama.cpp serves GGUF on CPU, so 0 GPUs (set serving.gpus to offload to GPUs).`,
      },
      findings,
    };
  }

  let gpus: number;
  let explanation: string;
  if (serving.gpus === "auto") {
    gpus = 1;
    while (gpus < MAX_SEARCHED_GPUS && needFor(gpus).total > gpus * perGpuUsable) gpus *= 2;
    const need = needFor(gpus);
    explanation = `${describe(need)}; ${usableText} → ${gpus} GPU${gpus === 1 ? "" : "s"} (tensor parallelism uses powers of two).`;
  } else {
    gpus = serving.gpus;
    const need = needFor(gpus);
    explanation = `${describe(need)}; ${usableText}; the manifest asks for ${gpus} GPU${gpus === 1 ? "" : "s"}, which hold ${gib(gpus * perGpuUsable)}.`;
    const withoutKv = need.total - need.kvBytes;
    if (withoutKv > gpus * perGpuUsable) {
      findings.push({
        severity: "error",
        code: "gpu.weights-do-not-fit",
        path: "serving.gpus",
        message: `Weights and overhead alone need ${gib(withoutKv)}, more than ${gpus} × ${gpu.memoryGiB} GiB GPUs provide (${gib(gpus * perGpuUsable)}).`,
        hint: "Set `serving.gpus: auto` or a larger number.",
      });
    } else if (need.total > gpus * perGpuUsable && kv) {
      const sequences = Math.floor((gpus * perGpuUsable - withoutKv) / (kv.bytes / gpu.defaultConcurrency));
      findings.push({
        severity: "warning",
        code: "gpu.kv-cache-short",
        path: "serving.gpus",
        message: `${gpus} GPU${gpus === 1 ? "" : "s"} leave room for the KV cache of about ${sequences} sequence(s) of ${serving.maxModelLen} tokens, not the ${gpu.defaultConcurrency} the stack sizes for.`,
        hint: "Expect queueing under load; set `serving.gpus: auto` or lower `serving.maxModelLen`.",
      });
    }
  }

  const need = needFor(gpus);
  const fits = gpus <= gpu.maxPerNode && need.total - need.kvBytes <= gpus * perGpuUsable;
  if (gpus > gpu.maxPerNode) {
    findings.push({
      severity: "error",
      code: "gpu.does-not-fit",
      path: "serving.gpus",
      message: `The model needs ${gpus} GPUs of ${gpu.memoryGiB} GiB, but a node has at most ${gpu.maxPerNode}.`,
      hint: "Lower `serving.maxModelLen`, use a quantized export (FP8, AWQ), or run on nodes with larger GPUs.",
    });
  }
  if (shape.heads !== undefined && gpus > 1 && shape.heads % gpus !== 0) {
    findings.push({
      severity: "warning",
      code: "gpu.heads-not-divisible",
      path: "serving.gpus",
      message: `The model has ${shape.heads} attention heads, which ${gpus} GPUs cannot split evenly; vLLM refuses that tensor-parallel size.`,
      hint: "Choose a GPU count that divides the number of attention heads.",
    });
  }
  return {
    plan: {
      weightBytes,
      kvCacheBytes: need.kvBytes,
      overheadBytes: need.overheadBytes,
      totalBytes: need.total,
      gpus,
      gpuMemoryGiB: gpu.memoryGiB,
      fits,
      explanation,
    },
    findings,
  };
}

/** KV cache bytes for `maxModelLen × defaultConcurrency` tokens on one replica, and how it was computed. */
function kvCachePerReplica(input: GpuPlanInput): { bytes: number; formula: string } | undefined {
  const { layers, kvHeads, headDim } = input.shape;
  if (!layers || !kvHeads || !headDim) return undefined;
  const elementBytes = kvElementBytes(input.serving.extraArgs);
  const tokens = input.serving.maxModelLen * input.gpu.defaultConcurrency;
  return {
    bytes: 2 * layers * kvHeads * headDim * elementBytes * tokens,
    formula: `2 × ${layers} layers × ${kvHeads} KV heads × ${headDim} head dim × ${elementBytes} bytes × ${input.serving.maxModelLen} tokens × ${input.gpu.defaultConcurrency} sequences`,
  };
}

/** With more GPUs than KV heads, vLLM replicates each KV head on several GPUs. */
function kvReplication(gpus: number, kvHeads: number | undefined): number {
  return kvHeads && gpus > kvHeads ? gpus / kvHeads : 1;
}

function kvElementBytes(extraArgs: readonly string[]): number {
  const index = extraArgs.findIndex((a) => a === "--kv-cache-dtype" || a.startsWith("--kv-cache-dtype="));
  if (index < 0) return DEFAULT_KV_ELEMENT_BYTES;
  const arg = extraArgs[index] ?? "";
  const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : (extraArgs[index + 1] ?? "");
  return value.startsWith("fp8") ? 1 : DEFAULT_KV_ELEMENT_BYTES;
}

function gib(bytes: number): string {
  return `${(bytes / GiB).toFixed(2)} GiB`;
}
