import { beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { CandidateFailed } from "../../lib/core/errors";
import { checkCandidate } from "../../lib/pipeline/check-candidate";
import { chooseServing } from "../../lib/core/weights/serving-choice";
import { deployCandidate } from "../../lib/pipeline/deploy-candidate";
import { FixedClock } from "../support/fixed-clock";
import { MemoryEvents } from "../support/memory-events";
import { MemoryServing } from "../support/memory-serving";
import { ROLLOUT, stateAfterValidate, stateWithCandidate, validationSummary } from "../support/rollout-state";
import { MemoryRolloutStore } from "../support/memory-rollout-store";

let clock: FixedClock;
let serving: MemoryServing;
let events: MemoryEvents;

beforeEach(() => {
  clock = new FixedClock();
  serving = new MemoryServing(clock);
  events = new MemoryEvents();
});

const deps = () => ({
  serving,
  events,
  clock,
  config: DEFAULT_STACK_CONFIG,
  objects: { bucket: "models-bucket" },
  store: new MemoryRolloutStore(),
});

describe("DeployCandidate", () => {
  it("deploys the manifest's server, sized by Validate's GPU plan, with the weights of this rollout", async () => {
    const state = stateAfterValidate("serving: {maxModelLen: 4096, extraArgs: [--enable-prefix-caching]}");

    const handle = await deployCandidate(state, deps());

    expect(serving.deployed).toEqual([
      {
        model: "llama",
        version: "v3",
        rolloutId: ROLLOUT.id,
        servedName: "llama",
        runtime: "vllm",
        image: "vllm/vllm-openai:v0.11.0",
        gpus: 2,
        maxModelLen: 4096,
        extraArgs: ["--enable-prefix-caching"],
        format: "safetensors",
        weights: { bucket: "models-bucket", prefix: "models/llama/v3/" },
        weightBytes: 16 * 1024 ** 3,
      },
    ]);
    expect(handle).toMatchObject({ model: "llama", version: "v3", servedName: "llama" });
  });

  it("loads the weights from the pipeline's bucket, the one Validate read, whatever bucket the state names", async () => {
    const state = stateAfterValidate("");
    const elsewhere = {
      ...state,
      rollout: { ...state.rollout, source: { ...state.rollout.source, bucket: "unvalidated" } },
    };

    await deployCandidate(elsewhere, deps());

    expect(serving.deployed[0]?.weights).toEqual({ bucket: "models-bucket", prefix: "models/llama/v3/" });
  });

  it("serves what Validate chose from the weights where the manifest is silent: the model's own context", async () => {
    const state = stateAfterValidate(
      "",
      validationSummary({
        serving: chooseServing(
          { gpus: "auto", extraArgs: [], trustRemoteCode: false },
          "safetensors",
          2048,
          DEFAULT_STACK_CONFIG,
        ),
      }),
    );

    await deployCandidate(state, deps());

    expect(serving.deployed[0]).toMatchObject({
      runtime: "vllm",
      image: "vllm/vllm-openai:v0.11.0",
      maxModelLen: 2048,
    });
  });

  it("chooses the same way for a state Validate wrote before it recorded its choice", async () => {
    await deployCandidate(stateAfterValidate(""), deps());

    expect(serving.deployed[0]).toMatchObject({ runtime: "vllm", maxModelLen: 8192 });
  });

  it("uses the GPU count the manifest fixes instead of the plan's", async () => {
    await deployCandidate(stateAfterValidate("serving: {gpus: 4}"), deps());

    expect(serving.deployed[0]?.gpus).toBe(4);
  });

  it("runs a GGUF model on llama.cpp on CPU when the plan says 0 GPUs", async () => {
    const gguf = validationSummary({
      format: "gguf",
      weightBytes: 470_000,
      gpu: { ...validationSummary().gpu, gpus: 0 },
    });
    await deployCandidate(
      stateAfterValidate("serving: {runtime: llama.cpp, maxModelLen: 256}", gguf),
      deps(),
    );

    expect(serving.deployed[0]).toMatchObject({
      runtime: "llama.cpp",
      image: "ghcr.io/ggml-org/llama.cpp:server",
      gpus: 0,
      format: "gguf",
      weightBytes: 470_000,
    });
  });

  it("passes --trust-remote-code to vLLM when the manifest asks and the stack allows it", async () => {
    const config = { ...DEFAULT_STACK_CONFIG, allowTrustRemoteCode: true };
    const state = stateAfterValidate("serving: {trustRemoteCode: true}", validationSummary(), config);

    await deployCandidate(state, { ...deps(), config });

    expect(serving.deployed[0]?.extraArgs).toEqual(["--trust-remote-code"]);
  });

  it("adopts the candidate a first attempt deployed when it runs again", async () => {
    const state = stateAfterValidate();

    const first = await deployCandidate(state, deps());
    clock.advance(30);
    const second = await deployCandidate(state, deps());

    expect(second).toEqual(first);
    expect(serving.running).toEqual([first.id]);
  });

  it("announces the deployed candidate: what runs, and where the runtime put it", async () => {
    const handle = await deployCandidate(stateAfterValidate(), deps());

    expect(events.emitted).toEqual([
      expect.objectContaining({
        detailType: "Stage Succeeded",
        detail: expect.objectContaining({
          stage: "DeployCandidate",
          rolloutId: ROLLOUT.id,
          executionArn: ROLLOUT.executionId,
          message: `Deployed the candidate llama v3 (vllm, vllm/vllm-openai:v0.11.0, 2 GPUs) as ${handle.id}; waiting for it to be ready. Capacity: 1 replica of v3; 2 needed, 1024 free.`,
          data: {
            candidate: handle.id,
            runtime: "vllm",
            image: "vllm/vllm-openai:v0.11.0",
            gpus: 2,
            capacity: { plan: "1 replica of v3", neededGpus: 2, freeGpus: 1024, waitedSeconds: 0 },
            where: { entry: handle.id },
          },
        }),
      }),
    ]);
  });

  it("says which key is missing when the state did not pass through Validate", async () => {
    const { validation: _, ...withoutValidation } = stateAfterValidate();

    await expect(deployCandidate(withoutValidation, deps())).rejects.toThrow(
      "DeployCandidate needs $.manifest (from Prepare) and $.validation (from Validate); the state has no validation.",
    );
    expect(serving.deployed).toEqual([]);
  });
});

describe("CheckCandidate", () => {
  async function deployed() {
    const state = stateAfterValidate();
    const handle = await deployCandidate(state, deps());
    return { state: stateWithCandidate(state, handle), handle };
  }

  it("returns a pending status with its reason and only the last few log lines", async () => {
    const { state, handle } = await deployed();
    const logTail = Array.from({ length: 50 }, (_, i) => `loading shard ${i}`);
    serving.setStatus(handle.id, {
      phase: "pending",
      reason: "Unschedulable",
      message: "No node can run the candidate yet: Insufficient nvidia.com/gpu.",
      hint: "Add GPU capacity.",
      logTail,
    });

    const status = await checkCandidate(state, { serving, store: new MemoryRolloutStore() });

    expect(status).toEqual({
      phase: "pending",
      reason: "Unschedulable",
      message: "No node can run the candidate yet: Insufficient nvidia.com/gpu.",
      hint: "Add GPU capacity.",
      logTail: logTail.slice(-5),
    });
  });

  it("returns ready with the seconds the candidate took, and nothing else", async () => {
    const { state, handle } = await deployed();
    serving.setStatus(handle.id, { phase: "ready", readySeconds: 184.2, logTail: ["Uvicorn running"] });

    expect(await checkCandidate(state, { serving, store: new MemoryRolloutStore() })).toEqual({
      phase: "ready",
      readySeconds: 184.2,
    });
  });

  it("fails as CandidateFailed with the classified reason, the hint and the log tail in the message", async () => {
    const { state, handle } = await deployed();
    serving.setStatus(handle.id, {
      phase: "failed",
      reason: "CudaOutOfMemory",
      message: "The model did not fit in GPU memory: CUDA out of memory.",
      hint: "Give it more GPUs (serving.gpus).",
      logTail: [
        "INFO loading weights",
        "",
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
      ],
    });

    const failure = await checkCandidate(state, { serving, store: new MemoryRolloutStore() }).catch(
      (e: unknown) => e,
    );

    expect(failure).toBeInstanceOf(CandidateFailed);
    const error = failure as CandidateFailed;
    expect(error.name).toBe("CandidateFailed");
    expect(error.reason).toBe("CudaOutOfMemory: The model did not fit in GPU memory: CUDA out of memory.");
    expect(error.hint).toBe("Give it more GPUs (serving.gpus).");
    expect(error.message.split("\n")).toEqual([
      "CudaOutOfMemory: The model did not fit in GPU memory: CUDA out of memory.",
      `info    ${handle.id} log: INFO loading weights`,
      `info    ${handle.id} log: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB`,
      "Hint: Give it more GPUs (serving.gpus).",
    ]);
  });

  it("says what is missing when the state has no candidate handle", async () => {
    await expect(
      checkCandidate(stateAfterValidate(), { serving, store: new MemoryRolloutStore() }),
    ).rejects.toThrow(
      "CheckCandidate needs $.candidate.handle from DeployCandidate, but the state has no candidate.",
    );
  });
});

describe("DeployCandidate: capacity", () => {
  const STABLE = {
    id: "llama-v2-stable",
    model: "llama",
    version: "v2",
    rolloutId: "llama-v2-0000",
    servedName: "llama",
    deployedAt: "2025-05-01T00:00:00.000Z",
  };

  /** A model whose stable v2 runs `replicas` replicas, and the deps that see it. */
  async function withStable(replicas: number) {
    const store = new MemoryRolloutStore();
    await store.record(
      "llama",
      {
        at: STABLE.deployedAt,
        rolloutId: STABLE.rolloutId,
        version: "v2",
        stage: "Finalize",
        status: "promoted",
        reason: "",
      },
      { stable: { version: "v2", rolloutId: STABLE.rolloutId, handle: STABLE } },
    );
    await serving.scale(STABLE, replicas);
    return { ...deps(), store };
  }

  it("needs the candidate's full size beside a 4-replica stable in surge", async () => {
    // Validate's plan: 2 GPUs per replica; the default canary ends at 100%. (`constrained`, one replica more,
    // is refused by the manifest until the canary carries it out: core/resolution/manifest-capacity.)
    serving.freeGpus = 7;
    const surge = await withStable(4);
    await expect(deployCandidate(stateAfterValidate(""), surge)).rejects.toMatchObject({
      name: "InsufficientCapacity",
      reason: expect.stringContaining("8 needed, 7 free"),
    });
    expect(serving.deployed).toEqual([]);
  });

  it("needs a first release's own replicas", async () => {
    serving.freeGpus = 5;
    await expect(deployCandidate(stateAfterValidate("serving: {replicas: 3}"), deps())).rejects.toMatchObject(
      {
        name: "InsufficientCapacity",
        reason: expect.stringContaining("6 needed, 5 free"),
      },
    );
    serving.freeGpus = 6;
    await deployCandidate(stateAfterValidate("serving: {replicas: 3}"), deps());
    expect(serving.deployed).toHaveLength(1);
  });

  it("makes the candidate's autoscaler pinned to one replica for the gates, and says which and why", async () => {
    const handle = await deployCandidate(
      stateAfterValidate(
        "serving:\n  autoscaling: {minReplicas: 2, maxReplicas: 6, metric: queueDepth, target: 4}\n",
      ),
      deps(),
    );
    expect(serving.autoscalers.get(handle.id)).toMatchObject({
      settings: { metric: "queueDepth", minReplicas: 2, maxReplicas: 6 },
      range: { minReplicas: 1, maxReplicas: 1 },
    });
    const deployed = events.emitted.find((e) => e.detailType === "Stage Succeeded");
    expect(deployed?.detail.data).toMatchObject({ autoscaler: { kind: "hpa", reason: expect.any(String) } });
    expect(deployed?.detail.message).toContain("Autoscaler: hpa");
  });

  it("makes no autoscaler for a fixed replica count", async () => {
    const handle = await deployCandidate(stateAfterValidate("serving: {replicas: 2}"), deps());
    expect(serving.autoscalers.has(handle.id)).toBe(false);
  });
});
