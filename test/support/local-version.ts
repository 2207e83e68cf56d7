// A version in the local bucket, as the local serving tests deploy it straight through LocalServing (no
// pipeline): its weights written as models/<model>/<version>/model.gguf under `work`, and the spec that serves
// them with llama.cpp at a 256-token context.

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CandidateSpec } from "../../lib/ports";

export async function localVersionSpec(
  work: string,
  options: { readonly model: string; readonly version: string; readonly weights: Uint8Array },
): Promise<CandidateSpec> {
  const { model, version } = options;
  const prefix = `models/${model}/${version}/`;
  await mkdir(join(work, "bucket", prefix), { recursive: true });
  await writeFile(join(work, "bucket", prefix, "model.gguf"), options.weights);
  return {
    model,
    version,
    rolloutId: `${model}-${version}-0badc0de`,
    servedName: model,
    runtime: "llama.cpp",
    image: "ghcr.io/ggml-org/llama.cpp:server",
    gpus: 0,
    maxModelLen: 256,
    extraArgs: [],
    format: "gguf",
    weights: { bucket: join(work, "bucket"), prefix },
    weightBytes: 0,
  };
}
