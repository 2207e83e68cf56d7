// A vLLM candidate spec for an 8B safetensors model, as DeployCandidate would build it; tests vary it.

import type { CandidateSpec } from "../../lib/ports";

export function llamaCandidateSpec(overrides: Partial<CandidateSpec> = {}): CandidateSpec {
  return {
    model: "llama-3-8b",
    version: "v3",
    rolloutId: "llama-3-8b-v3-0a1b2c3d",
    servedName: "llama-3-8b",
    runtime: "vllm",
    image: "vllm/vllm-openai:v0.11.0",
    gpus: 1,
    maxModelLen: 8192,
    extraArgs: [],
    format: "safetensors",
    weights: { bucket: "models-bucket", prefix: "models/llama-3-8b/v3/" },
    weightBytes: 2 ** 30,
    ...overrides,
  };
}
