// The pipeline's flow, branch by branch: statemachines/pipeline.asl.json run by the local executor with test
// stage functions, asserting the exact states a rollout goes through and how it ends.

import { describe, expect, it } from "vitest";
import {
  CandidateFailed,
  describeCaughtError,
  EvalFailed,
  GatewayFailed,
  ManifestInvalid,
  ModelInvalid,
  RolloutInProgress,
  SloViolated,
  SmokeFailed,
  Transient,
  type ModelshipError,
} from "../../lib/core/errors";
import type { PipelineFunction } from "../../lib/core/state-machine/pipeline-functions";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import type {
  CanaryCheck,
  CandidateProgress,
  EvalShardInput,
  StressWorkerInput,
} from "../../lib/pipeline/flow-state";
import {
  CANARY_ROUND,
  onDeploy,
  failure,
  HAPPY_PATH_TO_GATEWAY,
  PROMOTION,
  runPipeline,
  testPlan,
} from "./test-stages";

const hint = "Fix it and upload again.";

describe("A rollout with a stable version", () => {
  it("goes through every gate, one canary round per step, then promotes, watches and finalizes", async () => {
    const run = await runPipeline();

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.path).toEqual([
      ...HAPPY_PATH_TO_GATEWAY,
      ...CANARY_ROUND,
      ...CANARY_ROUND,
      ...CANARY_ROUND,
      ...PROMOTION,
    ]);
  });

  it("runs one StressWorker per planned worker and one EvalShard per planned shard, and merges what they return", async () => {
    const run = await runPipeline();

    expect(run.count("StressWorker")).toBe(3);
    expect(run.count("EvalShard")).toBe(3);
    const mergeStressInput = run.calls.find((c) => c.fn === "MergeStress")?.input as ExecutionState;
    expect(mergeStressInput.stress).toEqual({
      workers: [
        { worker: 0, requests: 100 },
        { worker: 1, requests: 100 },
        { worker: 2, requests: 100 },
      ],
    });
    const mergeEvalInput = run.calls.find((c) => c.fn === "MergeEval")?.input as ExecutionState;
    expect(mergeEvalInput.eval).toEqual({
      shards: [
        { suite: "sanity", shard: "1/1", correct: 45 },
        { suite: "mmlu-pro-sample", shard: "1/2", correct: 45 },
        { suite: "mmlu-pro-sample", shard: "2/2", correct: 45 },
      ],
    });
  });

  it("gives each EvalShard the rollout, the candidate's handle and its own shard of the plan, nothing more", async () => {
    const plan = testPlan();
    const run = await runPipeline({ plan });

    const inputs = run.calls.filter((c) => c.fn === "EvalShard").map((c) => c.input as EvalShardInput);
    expect(inputs.map((input) => Object.keys(input).sort())).toEqual(
      plan.evalShards.map(() => ["candidate", "rollout", "shard"]),
    );
    expect(inputs.map((input) => input.shard)).toEqual(plan.evalShards);
    expect(inputs.every((input) => input.candidate.id === "candidate-llama-v2-0badf00d")).toBe(true);
    expect(inputs.every((input) => input.rollout.id === "llama-v2-0badf00d")).toBe(true);
  });

  it("gives each StressWorker the rollout, the candidate's handle, the stress gate, its worker and the prompt set Prepare checked", async () => {
    const stressPrompts = {
      name: "chat-sample",
      key: "prompts/chat-sample.jsonl",
      sha256: "9c1e",
      prompts: 40,
    };
    const plan = testPlan({ stressPrompts });
    const run = await runPipeline({ plan });

    const inputs = run.calls.filter((c) => c.fn === "StressWorker").map((c) => c.input as StressWorkerInput);
    expect(inputs.map((input) => Object.keys(input).sort())).toEqual(
      plan.stressWorkers.map(() => ["candidate", "gate", "prompts", "rollout", "worker"]),
    );
    expect(inputs.map((input) => input.worker)).toEqual(plan.stressWorkers);
    expect(inputs.every((input) => input.candidate.id === "candidate-llama-v2-0badf00d")).toBe(true);
    expect(inputs.every((input) => input.gate.mode === "concurrency")).toBe(true);
    expect(inputs.map((input) => input.prompts)).toEqual(plan.stressWorkers.map(() => stressPrompts));
  });

  it("gives each StressWorker a null prompt set when the workers send synthetic prompts", async () => {
    const run = await runPipeline({ plan: testPlan({ stressPrompts: null }) });

    const inputs = run.calls.filter((c) => c.fn === "StressWorker").map((c) => c.input as StressWorkerInput);
    expect(run.result.status).toBe("SUCCEEDED");
    expect(inputs.map((input) => input.prompts)).toEqual([null, null, null]);
  });

  it("keeps each stage's result under its own key and the rollout identity from the execution input", async () => {
    const run = await runPipeline();

    if (run.result.status !== "SUCCEEDED") throw new Error(run.result.status);
    const output = run.result.output as ExecutionState;
    expect(output.rollout.id).toBe("llama-v2-0badf00d");
    expect(Object.keys(output).sort()).toEqual(
      [
        "canary",
        "candidate",
        "capacity",
        "eval",
        "gateway",
        "manifest",
        "outcome",
        "plan",
        "rollout",
        "smoke",
        "stress",
        "validation",
      ].sort(),
    );
    expect(output.candidate).toMatchObject({ readinessChecks: 1, readiness: { phase: "ready" } });
    expect(output.outcome).toEqual({ reason: "The old stable version was retired." });
  });

  it("promotes at once when a promotion is requested during the canary", async () => {
    const run = await runPipeline({
      stages: {
        CheckCanary: async (): Promise<CanaryCheck> => ({
          rollback: false,
          promote: true,
          reason: "Promote Requested by alice.",
        }),
      },
    });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.path).toEqual([...HAPPY_PATH_TO_GATEWAY, ...CANARY_ROUND, ...PROMOTION]);
  });
});

describe("A first release", () => {
  it("skips the canary: from the gateway straight to Promote, still watched", async () => {
    const run = await runPipeline({ plan: testPlan({ hasStable: false, canarySteps: [] }) });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.path).toEqual([...HAPPY_PATH_TO_GATEWAY, ...PROMOTION]);
    expect(run.count("CanaryStep")).toBe(0);
  });

  it("is rolled back when an alarm fires during the watch", async () => {
    const run = await runPipeline({
      plan: testPlan({ hasStable: false, canarySteps: [] }),
      stages: {
        CheckCanary: async (): Promise<CanaryCheck> => ({
          rollback: true,
          promote: false,
          reason: "Alarm modelship-llama-v2-errors is in ALARM.",
        }),
      },
    });

    expect(failure(run).Error).toBe("RolledBack");
    expect(run.path.slice(-5)).toEqual(["Watch", "CheckWatch", "WatchVerdict", "Rollback", "RolledBack"]);
    expect(run.count("Finalize")).toBe(0);
  });
});

describe("The rollout strategies", () => {
  it("blue/green: with a stable but no steps, from the gateway straight to Promote, still watched", async () => {
    const run = await runPipeline({
      plan: testPlan({ hasStable: true, strategy: { kind: "blueGreen" }, canarySteps: [] }),
    });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.path).toEqual([...HAPPY_PATH_TO_GATEWAY, ...PROMOTION]);
    expect(run.count("CanaryStep")).toBe(0);
  });

  it("blue/green: an alarm in the watch rolls everything back in one step", async () => {
    const run = await runPipeline({
      plan: testPlan({ hasStable: true, strategy: { kind: "blueGreen" }, canarySteps: [] }),
      stages: {
        CheckCanary: async (): Promise<CanaryCheck> => ({
          rollback: true,
          promote: false,
          reason: "Alarm modelship-llama-v2-errors is in ALARM.",
        }),
      },
    });

    expect(failure(run).Error).toBe("RolledBack");
    expect(run.path.slice(-5)).toEqual(["Watch", "CheckWatch", "WatchVerdict", "Rollback", "RolledBack"]);
  });

  it("linear: one canary round per step of the plan, then the promotion", async () => {
    const steps = [20, 40, 60, 80, 100].map((weight) => ({ weight, bakeSeconds: 0 }));
    const run = await runPipeline({
      plan: testPlan({
        strategy: { kind: "linear", stepPercent: 20, intervalSeconds: 0 },
        canarySteps: steps,
      }),
    });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.count("CanaryStep")).toBe(5);
    expect(run.path.slice(-PROMOTION.length)).toEqual(PROMOTION);
  });
});

describe("Skippable gates", () => {
  it.each([
    ["smoke", ["IsSmokeTestEnabled", "IsStressTestEnabled"], ["SmokeTest"]],
    ["stress", ["IsStressTestEnabled", "IsEvalEnabled"], ["StressTest", "MergeStress"]],
    ["eval", ["IsEvalEnabled", "RegisterGateway"], ["Eval", "MergeEval"]],
  ] as const)("skips the %s gate when the plan disables it", async (gate, joined, skipped) => {
    const gates = { smoke: true, stress: true, eval: true, [gate]: false };
    const run = await runPipeline({ plan: testPlan({ gates }) });

    expect(run.result.status).toBe("SUCCEEDED");
    const at = run.path.indexOf(joined[0]);
    expect(run.path.slice(at, at + 2)).toEqual(joined);
    for (const state of skipped) expect(run.path).not.toContain(state);
  });

  it("goes from the ready candidate straight to the gateway when every gate is disabled", async () => {
    const run = await runPipeline({
      plan: testPlan({ gates: { smoke: false, stress: false, eval: false }, stressWorkers: [] }),
    });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.path.slice(8, 13)).toEqual([
      "IsCandidateReady",
      "IsSmokeTestEnabled",
      "IsStressTestEnabled",
      "IsEvalEnabled",
      "RegisterGateway",
    ]);
    for (const fn of ["SmokeTest", "StressWorker", "MergeStress", "EvalShard", "MergeEval"] as const) {
      expect(run.count(fn)).toBe(0);
    }
  });
});

describe("Failures before the canary", () => {
  it.each<[PipelineFunction, string, ModelshipError]>([
    ["Validate", "Validate", new ModelInvalid("3 errors in model.safetensors.", { hint })],
    ["DeployCandidate", "DeployCandidate", new CandidateFailed("No node has 8 free GPUs.", { hint })],
    ["CheckCandidate", "CheckCandidate", new CandidateFailed("The server was OOMKilled.", { hint })],
    ["SmokeTest", "SmokeTest", new SmokeFailed("The answer was one token repeated.", { hint })],
    ["StressWorker", "StressTest", new SloViolated("Worker 1 saw 12% errors.", { hint })],
    ["MergeStress", "MergeStress", new SloViolated("TTFT p95 was 1.9 s, the SLO is 0.8 s.", { hint })],
    ["EvalShard", "Eval", new EvalFailed("The suite sanity could not be read.", { hint })],
    ["MergeEval", "MergeEval", new EvalFailed("mmlu-pro-sample scored 0.31, the minimum is 0.4.", { hint })],
    ["RegisterGateway", "RegisterGateway", new GatewayFailed("The HTTPRoute was rejected.", { hint })],
  ])(
    "a %s failure goes through Cleanup and fails the rollout with its own error",
    async (fn, state, error) => {
      // DeployCandidate's function also answers CheckCapacity, which finds the capacity there.
      const handler = fn === "DeployCandidate" ? onDeploy(failing(error)) : failing(error);
      const run = await runPipeline({ stages: { [fn]: handler } });

      const at = run.path.indexOf(state);
      expect(run.path.slice(at)).toEqual([state, "Cleanup", "RolloutFailed"]);
      const failed = failure(run);
      expect(failed.Error).toBe(error.name);
      expect(describeCaughtError(failed)).toMatchObject({ error: error.name, reason: error.reason, hint });
      const cleanupInput = run.calls.find((c) => c.fn === "Cleanup")?.input as ExecutionState;
      expect(cleanupInput.error).toEqual(failed);
    },
  );

  it.each([
    new RolloutInProgress("llama is being rolled out by llama-v1-12345678.", {
      rolloutId: "llama-v1-12345678",
      version: "v1",
      since: "2025-01-01T00:00:00.000Z",
    }),
    new ManifestInvalid("modelship.yaml: rollout.bakeSecond is not a setting.", { hint }),
  ])(
    "a Prepare failure ($name) still passes through Cleanup, so it leaves a record and an event",
    async (error) => {
      const run = await runPipeline({ stages: { Prepare: failing(error) } });

      expect(run.path).toEqual(["Prepare", "Cleanup", "RolloutFailed"]);
      expect(failure(run).Error).toBe(error.name);
      const cleanupInput = run.calls.find((c) => c.fn === "Cleanup")?.input as ExecutionState;
      expect(cleanupInput.rollout.id).toBe("llama-v2-0badf00d");
    },
  );

  it("keeps the original error when Cleanup itself fails", async () => {
    const run = await runPipeline({
      stages: {
        SmokeTest: failing(new SmokeFailed("Empty answers.", { hint })),
        Cleanup: async () => {
          throw new Error("The rollout table is unreachable.");
        },
      },
    });

    expect(run.path.slice(-3)).toEqual(["SmokeTest", "Cleanup", "RolloutFailed"]);
    expect(failure(run).Error).toBe("SmokeFailed");
  });
});

describe("Candidate readiness", () => {
  it("polls until the candidate is ready, counting every check in the state", async () => {
    let checks = 0;
    const run = await runPipeline({
      stages: { CheckCandidate: async () => ({ phase: ++checks < 3 ? "pending" : "ready" }) },
    });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.count("CheckCandidate")).toBe(3);
    const smokeInput = run.calls.find((c) => c.fn === "SmokeTest")?.input as ExecutionState;
    expect((smokeInput.candidate as unknown as CandidateProgress).readinessChecks).toBe(3);
  });

  it("gives up after plan.maxReadinessChecks checks with CandidateTimeout, through Cleanup", async () => {
    const run = await runPipeline({
      plan: testPlan({ maxReadinessChecks: 4 }),
      stages: { CheckCandidate: async () => ({ phase: "pending", reason: "ContainerCreating" }) },
    });

    expect(run.count("CheckCandidate")).toBe(4);
    expect(run.path.slice(-3)).toEqual(["CandidateTimedOut", "Cleanup", "RolloutFailed"]);
    const failed = failure(run);
    expect(failed.Error).toBe("CandidateTimeout");
    expect(describeCaughtError(failed).reason).toMatch(
      /not ready after 4 readiness checks, one every 15 s; its last status was .*"reason":"ContainerCreating"/,
    );
  });
});

describe("The canary", () => {
  it("rolls back when an alarm fires after a bake, and fails the execution as RolledBack with the reason", async () => {
    let checks = 0;
    const run = await runPipeline({
      stages: {
        CheckCanary: async (): Promise<CanaryCheck> =>
          ++checks === 2
            ? { rollback: true, promote: false, reason: "Alarm modelship-llama-v2-latency is in ALARM." }
            : { rollback: false, promote: false, reason: "Every alarm is OK." },
      },
    });

    expect(run.path).toEqual([
      ...HAPPY_PATH_TO_GATEWAY,
      ...CANARY_ROUND,
      ...CANARY_ROUND,
      "Rollback",
      "RolledBack",
    ]);
    expect(failure(run)).toEqual({
      Error: "RolledBack",
      Cause: "The alarm modelship-llama-v2-latency fired.",
    });
    expect(run.count("Cleanup")).toBe(0);
    expect(run.count("Promote")).toBe(0);
  });

  it.each<[PipelineFunction, number]>([
    ["CanaryStep", 1],
    ["CheckCanary", 1],
    ["Promote", 1],
    ["CheckCanary", 4],
  ])(
    "a %s failure (call %i) during the canary or the watch goes to Rollback, not Cleanup",
    async (fn, failingCall) => {
      let calls = 0;
      const run = await runPipeline({
        stages: {
          [fn]: async () => {
            if (++calls === failingCall) throw new GatewayFailed("The gateway refused the new weights.");
            return fn === "CheckCanary"
              ? { rollback: false, promote: false, reason: "OK" }
              : { reason: "done" };
          },
        },
      });

      expect(run.path.slice(-2)).toEqual(["Rollback", "RolledBack"]);
      expect(run.count("Cleanup")).toBe(0);
      const rollbackInput = run.calls.find((c) => c.fn === "Rollback")?.input as ExecutionState;
      expect(rollbackInput.error?.Error).toBe("GatewayFailed");
    },
  );

  it("ends in RollbackFailed, not Cleanup, when Rollback itself fails: the candidate may still carry traffic", async () => {
    const run = await runPipeline({
      stages: {
        CheckCanary: async () => ({ rollback: true, promote: false, reason: "Alarm." }),
        Rollback: async () => {
          throw new GatewayFailed("The route could not be restored.");
        },
      },
    });

    expect(run.path.slice(-2)).toEqual(["Rollback", "RollbackFailed"]);
    expect(failure(run).Error).toBe("RollbackFailed");
    expect(describeCaughtError(failure(run)).reason).toBe("The route could not be restored.");
    expect(run.count("Cleanup")).toBe(0);
  });

  it("fails without Cleanup or Rollback when Finalize fails: the candidate is the stable version by then", async () => {
    const run = await runPipeline({
      stages: {
        Finalize: async () => {
          throw new GatewayFailed("The old backend could not be removed.");
        },
      },
    });

    expect(run.path.slice(-2)).toEqual(["Finalize", "RolloutFailed"]);
    expect(failure(run).Error).toBe("GatewayFailed");
    expect(run.count("Cleanup") + run.count("Rollback")).toBe(0);
  });
});

describe("Retries", () => {
  it("retries a Transient error and carries on when the stage then succeeds", async () => {
    let attempts = 0;
    const run = await runPipeline({
      stages: {
        SmokeTest: async () => {
          if (++attempts < 3) throw new Transient("The endpoint answered 503.");
          return { passed: true };
        },
      },
    });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.count("SmokeTest")).toBe(3);
    const smoke = run.transitions.filter((t) => t.state === "SmokeTest").map((t) => t.type);
    expect(smoke).toEqual(["entered", "failed", "retried", "failed", "retried", "exited"]);
    expect(run.count("Cleanup")).toBe(0);
  });

  it("retries inside a Map iteration without failing the other workers", async () => {
    let failed = false;
    const run = await runPipeline({
      stages: {
        StressWorker: async (input) => {
          const { worker } = input as { worker: { index: number } };
          if (worker.index === 1 && !failed) {
            failed = true;
            throw new Transient("Throttled.");
          }
          return { worker: worker.index };
        },
      },
    });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.count("StressWorker")).toBe(4);
  });

  it("retries only the eval shard that could not reach the candidate, and MergeEval gets every shard once", async () => {
    let failed = false;
    const run = await runPipeline({
      stages: {
        EvalShard: async (input) => {
          const { shard } = input as EvalShardInput;
          const name = `${shard.suite.name} ${shard.index + 1}/${shard.of}`;
          if (name === "mmlu-pro-sample 2/2" && !failed) {
            failed = true;
            throw new Transient("The candidate cannot be reached before its questions: ECONNREFUSED.");
          }
          return { shard: name };
        },
      },
    });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.count("EvalShard")).toBe(4);
    const mergeEvalInput = run.calls.find((c) => c.fn === "MergeEval")?.input as ExecutionState;
    expect(mergeEvalInput.eval).toEqual({
      shards: [{ shard: "sanity 1/1" }, { shard: "mmlu-pro-sample 1/2" }, { shard: "mmlu-pro-sample 2/2" }],
    });
  });

  it("gives up after the retry budget and goes through Cleanup with the Transient error", async () => {
    const run = await runPipeline({
      stages: {
        Validate: async () => {
          throw new Transient("The bucket answered 503.");
        },
      },
    });

    expect(run.count("Validate")).toBe(4);
    expect(run.path.slice(-3)).toEqual(["Validate", "Cleanup", "RolloutFailed"]);
    expect(failure(run).Error).toBe("Transient");
  });

  it("does not retry a named failure", async () => {
    const run = await runPipeline({ stages: { Validate: failing(new ModelInvalid("Truncated header.")) } });

    expect(run.count("Validate")).toBe(1);
  });
});

function failing(error: ModelshipError) {
  return async () => {
    throw error;
  };
}
