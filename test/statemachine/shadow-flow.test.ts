// The shadow phase's branches (rollout.shadow): statemachines/pipeline.asl.json run by the local executor with
// test stage functions — a shadow that passes goes on to the first canary step, one that alarms rolls back
// before any step, the phase sits after a beforeTraffic approval, blue/green shadows before its switch, and a
// plan without a shadow never enters it.

import { describe, expect, it } from "vitest";
import { LocalTaskTokens } from "../../lib/local/task-tokens";
import type { ApprovalRequest } from "../../lib/pipeline/request-approval";
import type { ShadowInput } from "../../lib/pipeline/shadow";
import {
  CANARY_ROUND,
  failure,
  HAPPY_PATH_TO_GATEWAY,
  PROMOTION,
  runPipeline,
  SHADOW_PHASE,
  testPlan,
} from "./test-stages";

const SHADOW = { percent: 20, seconds: 60 };
const BEFORE_SHADOW = HAPPY_PATH_TO_GATEWAY.slice(0, -1);

describe("The shadow phase", () => {
  it("mirrors, waits the shadow's seconds, checks, takes the mirror off, then runs the first canary step", async () => {
    const run = await runPipeline({ plan: testPlan({ shadow: SHADOW }) });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.path).toEqual([
      ...BEFORE_SHADOW,
      ...SHADOW_PHASE,
      "HasStableVersion",
      ...CANARY_ROUND,
      ...CANARY_ROUND,
      ...CANARY_ROUND,
      ...PROMOTION,
    ]);
    const actions = run.calls.filter((c) => c.fn === "Shadow").map((c) => (c.input as ShadowInput).action);
    expect(actions).toEqual(["start", "check", "end"]);
    // The Wait reads the seconds StartShadow returned.
    const wait = run.transitions.find((t) => t.type === "entered" && t.state === "ShadowBake");
    expect(wait).toBeDefined();
  });

  it("rolls back when the shadow's check finds an alarm, before any canary step", async () => {
    const run = await runPipeline({
      plan: testPlan({ shadow: SHADOW }),
      stages: {
        Shadow: async (input) => {
          const { action } = input as ShadowInput;
          if (action === "start")
            return { ...SHADOW, since: "2025-01-01T00:00:00.000Z", stableVersion: "v1" };
          if (action === "check") {
            return { rollback: true, reason: "Alarm modelship-llama-v2-latency-p95-traffic is in ALARM." };
          }
          throw new Error("EndShadow must not run after a failed shadow.");
        },
      },
    });

    expect(run.path).toEqual([
      ...BEFORE_SHADOW,
      "StartShadow",
      "ShadowBake",
      "CheckShadow",
      "ShadowVerdict",
      "Rollback",
      "RolledBack",
    ]);
    expect(failure(run).Error).toBe("RolledBack");
    expect(run.count("CanaryStep")).toBe(0);
    expect(run.count("Cleanup")).toBe(0);
  });

  it("rolls back (which takes the mirror off) when starting the shadow fails", async () => {
    const run = await runPipeline({
      plan: testPlan({ shadow: SHADOW }),
      stages: {
        Shadow: async () => {
          throw Object.assign(new Error("The route could not be changed."), { name: "GatewayFailed" });
        },
      },
    });

    expect(run.path.slice(-3)).toEqual(["StartShadow", "Rollback", "RolledBack"]);
    expect(run.count("CanaryStep")).toBe(0);
  });

  it("mirrors only after a beforeTraffic approval: copying users' requests to the candidate is traffic", async () => {
    const tokens = new LocalTaskTokens();
    const run = await runPipeline({
      plan: testPlan({ shadow: SHADOW, approval: { wait: "beforeTraffic", timeoutSeconds: 3600 } }),
      taskTokens: tokens,
      stages: {
        RequestApproval: async (input) => {
          const { token, at } = input as ApprovalRequest;
          tokens.succeed(token, { approvedBy: "alice" });
          return { at, expiresAt: "2025-01-02T00:00:00.000Z" };
        },
      },
    });

    expect(run.result.status).toBe("SUCCEEDED");
    const at = run.path.indexOf("WaitForApprovalBeforeTraffic");
    expect(run.path.slice(at, at + 3)).toEqual(["WaitForApprovalBeforeTraffic", "HasShadow", "StartShadow"]);
  });

  it("shadows a blue/green rollout before its switch to 100%", async () => {
    const run = await runPipeline({
      plan: testPlan({ shadow: SHADOW, strategy: { kind: "blueGreen" }, canarySteps: [] }),
    });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.path).toEqual([...BEFORE_SHADOW, ...SHADOW_PHASE, "HasStableVersion", ...PROMOTION]);
  });

  it("never enters the shadow when the plan has none (a first release's plan skips it)", async () => {
    const run = await runPipeline({
      plan: testPlan({
        hasStable: false,
        canarySteps: [],
        shadowSkipped: "The shadow (rollout.shadow) is skipped: v1 is the first release of llama.",
      }),
    });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.count("Shadow")).toBe(0);
    expect(run.path).toEqual([...HAPPY_PATH_TO_GATEWAY, ...PROMOTION]);
  });
});
