// The rollout hooks in the pipeline's flow: statemachines/pipeline.asl.json run by the local executor, the
// hook Tasks present only at the points plan.hooks names, a failure before traffic stopping the rollout through
// Cleanup and one after traffic rolling it back, an ignored failure going on.

import { describe, expect, it } from "vitest";
import { HookFailed } from "../../lib/core/errors";
import type { HookPoint } from "../../lib/core/manifest/manifest-schema";
import type { CanaryCheck } from "../../lib/pipeline/flow-state";
import type { HooksResult, RunHooksInput } from "../../lib/pipeline/run-hooks";
import { CANARY_ROUND, failure, HAPPY_PATH_TO_GATEWAY, runPipeline, testPlan } from "./test-stages";

const EVERY_POINT = {
  preTraffic: ["regression"],
  eachStep: ["kpis"],
  prePromote: ["sign-off"],
  postPromote: ["smoke-at-100"],
};

function failingAt(point: HookPoint) {
  return async (input: unknown): Promise<HooksResult> => {
    const { at } = input as RunHooksInput;
    if (at === point) throw new HookFailed(`Hook 'h' (${at}) failed: 3 of 40 regression prompts changed`);
    return { at, results: [{ name: "h", pass: true, reason: "passed", durationMs: 5, attempts: 1 }] };
  };
}

describe("Hooks in the pipeline", () => {
  it("runs no hook Task for a plan without hooks", async () => {
    const run = await runPipeline();

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.count("RunHooks")).toBe(0);
  });

  it("runs each point's hooks where the plan has them: before traffic, after each bake, around the promotion", async () => {
    const run = await runPipeline({ plan: testPlan({ hooks: EVERY_POINT }) });

    expect(run.result.status).toBe("SUCCEEDED");
    const withStepHooks = [...CANARY_ROUND.slice(0, -1), "StepHooks", "CanaryVerdict"];
    expect(run.path).toEqual([
      ...HAPPY_PATH_TO_GATEWAY.slice(0, -3),
      "PreTrafficHooks",
      "IsApprovalBeforeTraffic",
      "HasShadow",
      "HasStableVersion",
      ...withStepHooks,
      ...withStepHooks,
      ...withStepHooks,
      "HasPrePromoteHooks",
      "PrePromoteHooks",
      "IsApprovalBeforePromote",
      "Promote",
      "HasPostPromoteHooks",
      "PostPromoteHooks",
      "Watch",
      "CheckWatch",
      "WatchVerdict",
      "Finalize",
      "Shipped",
    ]);
    const points = run.calls.filter((c) => c.fn === "RunHooks").map((c) => (c.input as RunHooksInput).at);
    expect(points).toEqual(["preTraffic", "eachStep", "eachStep", "eachStep", "prePromote", "postPromote"]);
  });

  it("gives the hook Task its point and the whole state, and keeps its result at $.hooks", async () => {
    const run = await runPipeline({ plan: testPlan({ hooks: { preTraffic: ["regression"] } }) });

    const input = run.calls.find((c) => c.fn === "RunHooks")?.input as RunHooksInput;
    expect(input.at).toBe("preTraffic");
    expect(input.state.rollout.model).toBe("llama");
    expect(input.state.gateway).toEqual({ route: "llama", weight: 0 });
    const next = run.calls.find((c) => c.fn === "CanaryStep")?.input as { hooks?: unknown };
    expect(next.hooks).toEqual({ at: "preTraffic", results: [] });
  });

  it("stops a rollout whose preTraffic hook fails through Cleanup, before any canary step, failing with HookFailed", async () => {
    const run = await runPipeline({
      plan: testPlan({ hooks: EVERY_POINT }),
      stages: { RunHooks: failingAt("preTraffic") },
    });

    expect(failure(run).Error).toBe("HookFailed");
    expect(run.path.slice(-3)).toEqual(["PreTrafficHooks", "Cleanup", "RolloutFailed"]);
    expect(run.count("CanaryStep")).toBe(0);
    expect(run.count("Rollback")).toBe(0);
  });

  it.each<[HookPoint, string]>([
    ["eachStep", "StepHooks"],
    ["prePromote", "PrePromoteHooks"],
    ["postPromote", "PostPromoteHooks"],
  ])("rolls back when a %s hook fails, once traffic may have reached the candidate", async (point, state) => {
    const run = await runPipeline({
      plan: testPlan({ hooks: EVERY_POINT }),
      stages: { RunHooks: failingAt(point) },
    });

    expect(failure(run).Error).toBe("RolledBack");
    expect(run.path.slice(-3)).toEqual([state, "Rollback", "RolledBack"]);
    expect(run.count("Cleanup")).toBe(0);
    expect(run.count("Finalize")).toBe(0);
  });

  it("goes on past a failure its hook ignores (the stage records it and returns)", async () => {
    const ignored: HooksResult = {
      at: "eachStep",
      results: [
        { name: "kpis", pass: false, reason: "conversion -2%", ignored: true, durationMs: 5, attempts: 1 },
      ],
    };
    const run = await runPipeline({
      plan: testPlan({ hooks: { eachStep: ["kpis"] } }),
      stages: { RunHooks: async () => ignored },
    });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.count("RunHooks")).toBe(3);
  });

  it("does not run the step's hooks when the check already rolls back", async () => {
    const run = await runPipeline({
      plan: testPlan({ hooks: { eachStep: ["kpis"] } }),
      stages: {
        CheckCanary: async (): Promise<CanaryCheck> => ({
          rollback: true,
          promote: false,
          reason: "Alarm modelship-llama-v2-errors is in ALARM.",
        }),
      },
    });

    expect(failure(run).Error).toBe("RolledBack");
    expect(run.count("RunHooks")).toBe(0);
    expect(run.path.slice(-4)).toEqual(["HasStepHooks", "CanaryVerdict", "Rollback", "RolledBack"]);
  });

  it("runs the prePromote hooks on a first release too, which goes from the gateway straight to them", async () => {
    const run = await runPipeline({
      plan: testPlan({ hasStable: false, canarySteps: [], hooks: { prePromote: ["sign-off"] } }),
    });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.path.slice(HAPPY_PATH_TO_GATEWAY.length, HAPPY_PATH_TO_GATEWAY.length + 4)).toEqual([
      "HasPrePromoteHooks",
      "PrePromoteHooks",
      "IsApprovalBeforePromote",
      "Promote",
    ]);
  });

  describe("with a manual approval", () => {
    it("runs the preTraffic hooks before asking for the approval before traffic", async () => {
      const run = await runPipeline({
        plan: testPlan({
          hooks: { preTraffic: ["regression"] },
          approval: { wait: "beforeTraffic", timeoutSeconds: 60 },
        }),
      });

      expect(run.result.status).toBe("SUCCEEDED");
      const at = run.path.indexOf("PreTrafficHooks");
      expect(run.path.slice(at, at + 4)).toEqual([
        "PreTrafficHooks",
        "IsApprovalBeforeTraffic",
        "WaitForApprovalBeforeTraffic",
        "HasShadow",
      ]);
    });

    it("runs the prePromote hooks before asking for the approval, so no one is asked to approve what they failed", async () => {
      const passing = await runPipeline({
        plan: testPlan({
          hooks: { prePromote: ["sign-off"] },
          approval: { wait: "beforePromote", timeoutSeconds: 60 },
        }),
      });

      expect(passing.result.status).toBe("SUCCEEDED");
      const at = passing.path.indexOf("PrePromoteHooks");
      expect(passing.path.slice(at, at + 4)).toEqual([
        "PrePromoteHooks",
        "IsApprovalBeforePromote",
        "WaitForApprovalBeforePromote",
        "Promote",
      ]);

      const failing = await runPipeline({
        plan: testPlan({
          hooks: { prePromote: ["sign-off"] },
          approval: { wait: "beforePromote", timeoutSeconds: 60 },
        }),
        stages: { RunHooks: failingAt("prePromote") },
      });

      expect(failure(failing).Error).toBe("RolledBack");
      expect(failing.count("RequestApproval")).toBe(0);
      expect(failing.path.slice(-3)).toEqual(["PrePromoteHooks", "Rollback", "RolledBack"]);
    });
  });
});
