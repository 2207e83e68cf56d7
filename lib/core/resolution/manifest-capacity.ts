// The manifest's capacity settings resolved and checked: `serving.replicas` (a fixed count) or
// `serving.autoscaling` (a range on a per-replica metric), and `rollout.capacity` (surge | constrained).
//
// Decisions where the issue is silent:
// - `replicas` and `autoscaling` exclude each other: a fixed count inside an autoscaler's range would be
//   overwritten by it at once, so one of the two would silently not apply.
// - minReplicas 0 is refused for every version, not only for a stable: every candidate that passes becomes the
//   stable, and a stable scaled to zero makes the next request wait for a cold start (minutes for an LLM).
// - kvCacheUsage is a share (vLLM reports 0..1), so its target is at most 1.
// - `constrained` with `strategy: blueGreen` is refused: blue/green moves all traffic at once, so the
//   candidate must be at full size beside the full stable — there is no way to stay under fleet + 1.
// - The cooldown defaults to 300 s, the HPA's own default scale-down stabilization window.

import type { CapacityMode, RolloutStrategy } from "../manifest/rollout-settings";
import type { Finding } from "../findings";
import { ruleFinding, type FindingSource } from "../schema-findings";
import type { Manifest, ResolvedScaling } from "../manifest/manifest-schema";

/**
 * The most server processes the local runtime runs for one version (the manifest's own cap, MAX_REPLICAS, is
 * higher: a cluster has more room than one machine). The manifest is refused above it on the local runtime, so
 * a rollout fails at validation rather than at CanaryStep; the local serving adapter enforces it as well.
 */
export const MAX_LOCAL_REPLICAS = 16;

/** Kubernetes' HPA waits this long with a lower recommendation before it removes replicas. */
export const DEFAULT_COOLDOWN_SECONDS = 300;

/** A version that says nothing about its replicas serves with one. */
export const DEFAULT_SCALING: ResolvedScaling = { kind: "fixed", replicas: 1 };

type ServingInput = NonNullable<Manifest["serving"]>;

/** The version's replica count or autoscaler, with a finding for every setting that cannot work. */
export function resolveScaling(
  serving: ServingInput,
  source: FindingSource,
  onLocalRuntime: boolean,
  /** The local runtime serves with the stack's command template (`local.command`), not its llama.cpp server. */
  localCommandTemplate = false,
): { value: ResolvedScaling; findings: Finding[] } {
  const findings: Finding[] = [];
  const { replicas, autoscaling } = serving;
  if (replicas !== undefined && autoscaling !== undefined) {
    findings.push(
      ruleFinding(
        source,
        "replicas-and-autoscaling",
        "serving.replicas",
        `replicas: ${replicas} sets a fixed count and autoscaling sets a range of ${autoscaling.minReplicas}–${autoscaling.maxReplicas}; the autoscaler would overwrite the fixed count at once.`,
        "Keep one: remove serving.replicas to autoscale, or serving.autoscaling for a fixed count.",
      ),
    );
  }
  if (onLocalRuntime && replicas !== undefined && replicas > MAX_LOCAL_REPLICAS) {
    findings.push(localReplicasFinding(source, "serving.replicas", `replicas: ${replicas}`));
  }
  if (onLocalRuntime && autoscaling !== undefined && autoscaling.maxReplicas > MAX_LOCAL_REPLICAS) {
    findings.push(
      localReplicasFinding(
        source,
        "serving.autoscaling.maxReplicas",
        `maxReplicas: ${autoscaling.maxReplicas}`,
      ),
    );
  }
  if (onLocalRuntime && autoscaling?.metric === "kvCacheUsage") {
    findings.push(
      ruleFinding(
        source,
        "kv-cache-local",
        "serving.autoscaling.metric",
        "the local runtime's llama.cpp server evaluates one request at a time on one context sequence (lib/local/llama-server/loaded-model.ts), so its KV cache holds the running request's tokens only: its usage follows prompt length, not load, and more replicas would not lower it.",
        "Use metric: queueDepth (requests waiting for a server per replica) or inFlight locally; kvCacheUsage works on EKS with vLLM.",
      ),
    );
  }
  if (onLocalRuntime && localCommandTemplate && autoscaling?.metric === "queueDepth") {
    findings.push(
      ruleFinding(
        source,
        "queue-depth-command",
        "serving.autoscaling.metric",
        "queueDepth counts the requests beyond what a server serves at once, which modelship knows for its built-in llama.cpp server (one at a time) but not for the server of local.command.",
        "Use metric: inFlight with local.command, or leave local.command empty to serve with the built-in llama.cpp server.",
      ),
    );
  }
  if (autoscaling === undefined) {
    return { value: replicas === undefined ? DEFAULT_SCALING : { kind: "fixed", replicas }, findings };
  }

  const { minReplicas, maxReplicas, metric, target } = autoscaling;
  if (minReplicas === 0) {
    findings.push(
      ruleFinding(
        source,
        "scale-to-zero",
        "serving.autoscaling.minReplicas",
        "minReplicas 0 would let the version scale to zero, and this version becomes the stable when it passes: the first request after a quiet spell would wait for a cold start (minutes to load an LLM's weights), which is an outage to its users.",
        "Set minReplicas to 1 or more.",
      ),
    );
  }
  if (minReplicas > maxReplicas) {
    findings.push(
      ruleFinding(
        source,
        "autoscaling-range",
        "serving.autoscaling.maxReplicas",
        `maxReplicas ${maxReplicas} is below minReplicas ${minReplicas}.`,
        `Raise maxReplicas to at least ${minReplicas}, or lower minReplicas.`,
      ),
    );
  }
  if (metric === "kvCacheUsage" && target > 1) {
    findings.push(
      ruleFinding(
        source,
        "autoscaling-target",
        "serving.autoscaling.target",
        `kvCacheUsage is the share of the KV cache in use, 0..1 (vLLM's vllm:kv_cache_usage_perc), so a target of ${target} would never be reached.`,
        "Write the target as a share, e.g. 0.7 for 70%.",
      ),
    );
  }
  return {
    value: {
      kind: "autoscaling",
      minReplicas,
      maxReplicas,
      metric,
      target,
      cooldownSeconds: autoscaling.cooldownSeconds ?? DEFAULT_COOLDOWN_SECONDS,
    },
    findings,
  };
}

function localReplicasFinding(source: FindingSource, path: string, found: string): Finding {
  return ruleFinding(
    source,
    "local-replicas",
    path,
    `${found} asks for more server processes than the local runtime runs for one version (${MAX_LOCAL_REPLICAS}): each replica is a whole server on this machine.`,
    `Set it to ${MAX_LOCAL_REPLICAS} or fewer for a local rollout; larger fleets run on EKS.`,
  );
}

/** `rollout.capacity` (surge when unset), refused where the strategy cannot keep it. */
export function resolveCapacityMode(
  capacity: CapacityMode | undefined,
  strategy: RolloutStrategy,
  source: FindingSource,
): { value: CapacityMode; findings: Finding[] } {
  if (capacity === "constrained" && strategy.kind === "blueGreen") {
    return {
      value: capacity,
      findings: [
        ruleFinding(
          source,
          "capacity-blue-green",
          "rollout.capacity",
          "capacity: constrained keeps the rollout under the stable's replicas + 1, but strategy: blueGreen moves all traffic at once, so the candidate must run at full size beside the full stable.",
          "Use strategy: canary or linear with capacity: constrained, or capacity: surge with blueGreen.",
        ),
      ],
    };
  }
  return { value: capacity ?? "surge", findings: [] };
}

/** The replicas a version serves with when it has all traffic and no load: its fixed count or its minimum. */
export function baseReplicas(scaling: ResolvedScaling): number {
  return scaling.kind === "fixed" ? scaling.replicas : scaling.minReplicas;
}
