// Execution states as the state machine hands them to the stages after Validate: a rollout, its resolved
// manifest (from YAML, through the real resolution) and a validation summary, plus the candidate once deployed.

import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../lib/core/config/config";
import { loadManifest } from "../../lib/core/resolution/manifest";
import type { ExecutionState, RolloutIdentity, ValidationSummary } from "../../lib/core/rollout/rollout";
import type { CandidateHandle, CandidateStatus } from "../../lib/ports";

export const ROLLOUT: RolloutIdentity = {
  id: "llama-v3-0a1b2c3d",
  model: "llama",
  version: "v3",
  executionId: "local:llama-v3-0a1b2c3d",
  source: { bucket: "models-bucket", key: "models/llama/v3/modelship.yaml", prefix: "models/llama/v3/" },
};

const GiB = 1024 ** 3;

export function validationSummary(overrides: Partial<ValidationSummary> = {}): ValidationSummary {
  return {
    valid: true,
    format: "safetensors",
    parameters: 8_030_261_248,
    dtypes: { BF16: 8_030_261_248 },
    weightBytes: 16 * GiB,
    totalBytes: 16 * GiB + 20_000,
    files: 8,
    bytesRead: 40_000,
    requests: 8,
    gpu: {
      weightBytes: 16 * GiB,
      kvCacheBytes: 16 * GiB,
      overheadBytes: 3 * GiB,
      totalBytes: 35 * GiB,
      gpus: 2,
      gpuMemoryGiB: 24,
      explanation: "…",
      fits: true,
    },
    errors: 0,
    warnings: 0,
    findings: [],
    ...overrides,
  };
}

/** The state DeployCandidate gets: the manifest from `yaml`, resolved against `config`. */
export function stateAfterValidate(
  yaml = "",
  validation: ValidationSummary = validationSummary(),
  config: StackConfig = DEFAULT_STACK_CONFIG,
): ExecutionState {
  const { manifest, findings } = loadManifest(
    yaml,
    { name: ROLLOUT.model, version: ROLLOUT.version, fileName: "modelship.yaml" },
    config,
  );
  if (!manifest) throw new Error(`the test manifest does not resolve: ${JSON.stringify(findings)}`);
  return { rollout: ROLLOUT, manifest, validation };
}

/** The state after the readiness loop: `$.candidate` as the ASL builds it. */
export function stateWithCandidate(
  state: ExecutionState,
  handle: CandidateHandle,
  readiness?: CandidateStatus,
): ExecutionState {
  return { ...state, candidate: { handle, readinessChecks: 3, ...(readiness ? { readiness } : {}) } };
}
