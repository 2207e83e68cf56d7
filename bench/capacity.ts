// What a canary costs in capacity: for a 4-replica stable and a [25, 50, 100] canary, the most replicas and
// GPUs both versions hold at once, `surge` against `constrained`. The EKS half: the GPUs of a replica are read
// off the Deployments DeployCandidate would create (their containers' GPU requests, 2 GPUs each here), and the
// plan counts them at every move of the canary. The local half — the server processes sampled and the seconds each step
// spends scaling on the local runtime — is to be added beside it (issue 13 §4).

import { candidateObjects } from "../lib/aws/eks/candidate-objects";
import { type CapacityMode, planCapacity } from "../lib/core/capacity-plan";
import { DEFAULT_STACK_CONFIG } from "../lib/core/config";
import type { CandidateSpec } from "../lib/ports";

const STABLE_REPLICAS = 4;
const WEIGHTS = [25, 50, 100];
const GPUS_PER_REPLICA = 2;

export async function bench(): Promise<void> {
  const gpus = {
    stable: deploymentGpus({ version: "v1", rolloutId: "llama-v1-00000000" }),
    candidate: deploymentGpus({ version: "v2", rolloutId: "llama-v2-00000000" }),
  };
  console.log(
    `capacity: a ${STABLE_REPLICAS}-replica stable, canary [${WEIGHTS.join(", ")}], ${gpus.candidate} GPUs per replica (EKS Deployments)`,
  );
  console.log("  mode         peak replicas  peak GPUs  vs stable alone");
  const peaks: Record<CapacityMode, number> = { surge: 0, constrained: 0 };
  for (const mode of ["surge", "constrained"] as const) {
    const plan = planCapacity({
      stableReplicas: STABLE_REPLICAS,
      weights: WEIGHTS,
      mode,
      gpusPerReplica: gpus,
    });
    peaks[mode] = plan.peakGpus;
    const ratio = plan.peakGpus / (STABLE_REPLICAS * gpus.stable);
    console.log(
      `  ${mode.padEnd(11)}  ${String(plan.peakReplicas).padStart(13)}  ${String(plan.peakGpus).padStart(9)}  ${ratio.toFixed(2).padStart(14)}×`,
    );
  }
  if (peaks.constrained > (STABLE_REPLICAS + 1) * gpus.candidate) {
    throw new Error(`constrained peaks at ${peaks.constrained} GPUs, over the stable + 1 replica`);
  }
  console.log(`  constrained / surge peak GPUs: ${(peaks.constrained / peaks.surge).toFixed(2)}`);
}

/** The GPUs one replica requests, from the Deployment DeployCandidate builds for a 2-GPU vLLM version. */
function deploymentGpus(version: Pick<CandidateSpec, "version" | "rolloutId">): number {
  const spec: CandidateSpec = {
    model: "llama",
    servedName: "llama",
    runtime: "vllm",
    image: DEFAULT_STACK_CONFIG.allowedImages.vllm[0] ?? "",
    gpus: GPUS_PER_REPLICA,
    maxModelLen: 8192,
    extraArgs: [],
    format: "safetensors",
    weights: { bucket: "models-bucket", prefix: `models/llama/${version.version}/` },
    weightBytes: 16 * 2 ** 30,
    ...version,
  };
  const { deployment } = candidateObjects(spec, { config: DEFAULT_STACK_CONFIG, region: "us-east-1" });
  const resource = DEFAULT_STACK_CONFIG.gpu.resourceName;
  const containers = deployment.spec?.template.spec?.containers ?? [];
  return containers.reduce((sum, c) => sum + Number(c.resources?.requests?.[resource] ?? 0), 0);
}
