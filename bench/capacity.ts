// What a canary costs in capacity: for a 4-replica stable and a [25, 50, 100] canary, the most replicas and
// GPUs both versions hold at once, `surge` against `constrained`. The EKS half: the GPUs of a replica are read
// off the Deployments DeployCandidate would create (their containers' GPU requests, 2 GPUs each here), and the
// plan counts them at every move of the canary. The local half: the same plan's moves carried out on the local
// runtime — LocalServing starting and stopping real llama.cpp server processes of tiny generated models, the
// local gateway moving the weights — with the server processes counted from the process table every 50 ms
// (the peak), the seconds each step spent scaling (a scale-up waits for the new servers to be ready), and a
// rollback after the last step (core/capacity/stepwise-moves.ts, restoreMoves: in constrained the stable grows
// back one replica at a time, each taking back its share once ready while the candidate shrinks, then the
// candidate is removed): its seconds restoring the stable and the servers it peaks at.

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { candidateObjects } from "../lib/aws/eks/candidate-objects";
import { type CapacityMove, type CapacityPlan, planCapacity } from "../lib/core/capacity/capacity-plan";
import { restoreMoves } from "../lib/core/capacity/stepwise-moves";
import { type CapacityMode } from "../lib/core/manifest/rollout-settings";
import { DEFAULT_STACK_CONFIG } from "../lib/core/config/config";
import { buildTinyLlamaGguf } from "../lib/examples/gguf-model";
import { LocalGateway } from "../lib/local/gateway/local-gateway";
import { LocalServing } from "../lib/local/local-serving";
import type { CandidateHandle, CandidateSpec } from "../lib/ports";
import { runningServerPids } from "../test/support/server-processes";

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
  await benchLocal();
}

/** The local half: each mode's plan carried out with real server processes, measured. */
async function benchLocal(): Promise<void> {
  console.log(
    `capacity on the local runtime: a ${STABLE_REPLICAS}-replica stable, canary [${WEIGHTS.join(", ")}], llama.cpp servers of a tiny model (processes sampled every ${SAMPLE_MS} ms)`,
  );
  console.log(
    `  mode         peak servers  planned  scaling s per step (${WEIGHTS.map((w) => `${w}%`).join(", ")})  rollback: restore s  peak servers`,
  );
  const measured: Partial<Record<CapacityMode, LocalRun>> = {};
  for (const mode of ["surge", "constrained"] as const) {
    const plan = planCapacity({ stableReplicas: STABLE_REPLICAS, weights: WEIGHTS, mode });
    const run = await runLocally(plan);
    measured[mode] = run;
    const steps = run.stepSeconds.map((seconds) => seconds.toFixed(1)).join(", ");
    console.log(
      `  ${mode.padEnd(11)}  ${String(run.peakServers).padStart(12)}  ${String(plan.peakReplicas).padStart(7)}  ${steps.padEnd(33)}  ${run.rollbackSeconds.toFixed(1).padStart(19)}  ${String(run.rollbackPeakServers).padStart(12)}`,
    );
    if (run.peakServers > plan.peakReplicas) {
      throw new Error(`${mode} ran ${run.peakServers} servers at once, over its plan's ${plan.peakReplicas}`);
    }
    if (mode === "constrained" && run.rollbackPeakServers > STABLE_REPLICAS + 1) {
      throw new Error(
        `constrained's rollback ran ${run.rollbackPeakServers} servers at once, over the stable + 1`,
      );
    }
  }
  const { surge, constrained } = measured as Record<CapacityMode, LocalRun>;
  const total = (run: LocalRun) => run.stepSeconds.reduce((sum, s) => sum + s, 0);
  console.log(
    `  constrained / surge: peak servers ${(constrained.peakServers / surge.peakServers).toFixed(2)}, seconds scaling ${(total(constrained) / total(surge)).toFixed(2)}; a constrained rollback restores the stable one replica at a time in ${constrained.rollbackSeconds.toFixed(1)} s against surge's ${surge.rollbackSeconds.toFixed(1)} s: ${(constrained.rollbackSeconds - surge.rollbackSeconds).toFixed(1)} s slower`,
  );
}

const SAMPLE_MS = 50;
const READY_BUDGET_MS = 300_000;

interface LocalRun {
  readonly peakServers: number;
  /** Per canary step, the seconds its scale moves took (a scale-up until the new servers were ready). */
  readonly stepSeconds: readonly number[];
  /** The seconds a rollback after the last step spent on the stable's size before traffic could return. */
  readonly rollbackSeconds: number;
  /** The most servers at once during that rollback (the stable grows back before the candidate goes). */
  readonly rollbackPeakServers: number;
}

async function runLocally(plan: CapacityPlan): Promise<LocalRun> {
  const work = await mkdtemp(join(tmpdir(), "modelship-bench-capacity-"));
  const home = join(work, ".modelship");
  const config = { ...DEFAULT_STACK_CONFIG, local: { ...DEFAULT_STACK_CONFIG.local, threads: 1 } };
  const serving = new LocalServing({ home, config });
  const gateway = await LocalGateway.open({
    home,
    adminSecret: "bench",
    port: 0,
    endpointOf: (handle) => serving.endpoint(handle, "probe"),
    replicasOf: (handle) => serving.replicasOf(handle),
  });
  serving.countInFlightWith((baseUrl) => gateway.inFlight(baseUrl));
  let peakServers = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peakServers = Math.max(peakServers, runningServerPids().length);
      await sleep(SAMPLE_MS);
    }
  })();
  try {
    const stable = await deployTiny(serving, work, "v1", 1);
    await scaleAndWait(serving, stable, plan.stableReplicas);
    await gateway.register("tiny", stable);
    await gateway.promote("tiny", "v1");
    // DeployCandidate's one replica, which the gates test before the canary; the peak counts from here.
    const candidate = await deployTiny(serving, work, "v2", 2);
    await scaleAndWait(serving, candidate, 1);
    await gateway.register("tiny", candidate);
    peakServers = runningServerPids().length;

    const carryOut = async (moves: readonly CapacityMove[]): Promise<number> => {
      let seconds = 0;
      for (const move of moves) {
        if (move.kind === "setWeight") {
          await gateway.setWeights("tiny", { stable: 100 - move.weight, candidate: move.weight });
          continue;
        }
        const started = performance.now();
        await scaleAndWait(serving, move.kind === "scaleStable" ? stable : candidate, move.replicas);
        seconds += (performance.now() - started) / 1000;
      }
      return seconds;
    };
    const stepSeconds: number[] = [];
    for (const step of plan.steps) stepSeconds.push(await carryOut(step.moves));
    const canaryPeak = Math.max(peakServers, runningServerPids().length);
    peakServers = runningServerPids().length;
    const last = plan.steps.at(-1);
    const rollbackSeconds = await carryOut(
      restoreMoves(plan.stableReplicas, {
        stable: last?.stableReplicas ?? plan.stableReplicas,
        candidate: last?.candidateReplicas ?? 0,
        weight: last?.weight ?? 0,
      }),
    );
    await serving.remove(candidate);
    return { peakServers: canaryPeak, stepSeconds, rollbackSeconds, rollbackPeakServers: peakServers };
  } finally {
    sampling = false;
    await sampler;
    await gateway.close();
    await serving.stopAll();
    await rm(work, { recursive: true, force: true });
  }
}

async function deployTiny(serving: LocalServing, work: string, version: string, seed: number) {
  const prefix = `models/tiny/${version}/`;
  await mkdir(join(work, "bucket", prefix), { recursive: true });
  await writeFile(join(work, "bucket", prefix, "model.gguf"), buildTinyLlamaGguf({ seed }));
  return serving.deploy({
    model: "tiny",
    version,
    rolloutId: `tiny-${version}-0badc0de`,
    servedName: "tiny",
    runtime: "llama.cpp",
    image: "ghcr.io/ggml-org/llama.cpp:server",
    gpus: 0,
    maxModelLen: 256,
    extraArgs: [],
    format: "gguf",
    weights: { bucket: join(work, "bucket"), prefix },
    weightBytes: 0,
  });
}

/** Scales and waits until every replica is ready (a scale-down is done once the processes stopped). */
async function scaleAndWait(serving: LocalServing, handle: CandidateHandle, replicas: number): Promise<void> {
  await serving.scale(handle, replicas);
  const deadline = Date.now() + READY_BUDGET_MS;
  for (;;) {
    const count = await serving.replicas(handle);
    if (count.ready === replicas) return;
    const status = await serving.status(handle);
    if (status.phase === "failed") throw new Error(`${handle.version}: ${status.reason}: ${status.message}`);
    if (Date.now() > deadline) throw new Error(`${handle.version} not at ${replicas} ready replicas in time`);
    await sleep(100);
  }
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
