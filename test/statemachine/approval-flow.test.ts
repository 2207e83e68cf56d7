// The manual approval's branches of statemachines/pipeline.asl.json, run by the local executor: the
// execution waits on a `.waitForTaskToken` Task — before traffic or before the promotion — until the token is
// answered (approved: on; rejected, or failed by a rollback meanwhile: Rollback) or the wait times out
// (ApprovalTimedOut, then Rollback).

import { describe, expect, it } from "vitest";
import { LocalTaskTokens } from "../../lib/local/task-tokens";
import type { ApprovalRequest } from "../../lib/pipeline/request-approval";
import {
  CANARY_ROUND,
  failure,
  HAPPY_PATH_TO_GATEWAY,
  PROMOTION,
  runPipeline,
  testPlan,
} from "./test-stages";

const beforePromote = testPlan({ approval: { wait: "beforePromote", timeoutSeconds: 60 } });
const beforeTraffic = testPlan({ approval: { wait: "beforeTraffic", timeoutSeconds: 60 } });
const canaryRounds = [...CANARY_ROUND, ...CANARY_ROUND, ...CANARY_ROUND];

/** A RequestApproval that answers the token with `answer` once it was asked, as a person would later. */
function answeredWith(tokens: LocalTaskTokens, answer: (token: string) => void) {
  return async (input: unknown) => {
    const { token, at } = input as ApprovalRequest;
    setImmediate(() => answer(token));
    return { at, expiresAt: "2025-01-02T00:00:00.000Z" };
  };
}

describe("A manual approval", () => {
  it("waits before the promotion, after the canary's last bake, and promotes once approved", async () => {
    const tokens = new LocalTaskTokens();
    const run = await runPipeline({
      plan: beforePromote,
      taskTokens: tokens,
      stages: { RequestApproval: answeredWith(tokens, (t) => tokens.succeed(t, { approvedBy: "alice" })) },
    });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.path).toEqual([
      ...HAPPY_PATH_TO_GATEWAY,
      ...canaryRounds,
      ...PROMOTION.slice(0, 2),
      "WaitForApprovalBeforePromote",
      ...PROMOTION.slice(2),
    ]);
    const asked = run.calls.find((c) => c.fn === "RequestApproval")?.input as ApprovalRequest;
    expect(asked).toMatchObject({ at: "beforePromote", timeoutSeconds: 60 });
    expect(asked.token).toMatch(/^local-task-token:/);
    // The answer is the Task's result, kept at $.approval.
    const promoted = run.calls.find((c) => c.fn === "Promote")?.input as { approval: unknown };
    expect(promoted.approval).toEqual({ approvedBy: "alice" });
  });

  it("waits before any traffic moves, then runs the canary once approved", async () => {
    const tokens = new LocalTaskTokens();
    const run = await runPipeline({
      plan: beforeTraffic,
      taskTokens: tokens,
      stages: { RequestApproval: answeredWith(tokens, (t) => tokens.succeed(t, { approvedBy: "bob" })) },
    });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.path).toEqual([
      ...HAPPY_PATH_TO_GATEWAY.slice(0, -2),
      "WaitForApprovalBeforeTraffic",
      "HasShadow",
      "HasStableVersion",
      ...canaryRounds,
      ...PROMOTION,
    ]);
  });

  it("rolls back a rejected rollout, with ApprovalRejected and who rejected it", async () => {
    const tokens = new LocalTaskTokens();
    const run = await runPipeline({
      plan: beforePromote,
      taskTokens: tokens,
      stages: {
        RequestApproval: answeredWith(tokens, (t) =>
          tokens.fail(t, "ApprovalRejected", "llama v2 was rejected by carol: wrong tone."),
        ),
      },
    });

    expect(failure(run).Error).toBe("RolledBack");
    expect(run.path.slice(-3)).toEqual(["WaitForApprovalBeforePromote", "Rollback", "RolledBack"]);
    const rollback = run.calls.find((c) => c.fn === "Rollback")?.input as { error: unknown };
    expect(rollback.error).toEqual({
      Error: "ApprovalRejected",
      Cause: "llama v2 was rejected by carol: wrong tone.",
    });
    expect(run.count("Promote")).toBe(0);
  });

  it("leaves its wait at once when an alarm or a command rolled the rollout back meanwhile", async () => {
    const tokens = new LocalTaskTokens();
    const run = await runPipeline({
      plan: beforeTraffic,
      taskTokens: tokens,
      stages: {
        RequestApproval: answeredWith(tokens, (t) =>
          tokens.fail(t, "RolledBack", "Rolled back llama v2 because alarm … is in ALARM."),
        ),
      },
    });

    expect(failure(run).Error).toBe("RolledBack");
    expect(run.path.slice(-3)).toEqual(["WaitForApprovalBeforeTraffic", "Rollback", "RolledBack"]);
    expect(run.count("CanaryStep")).toBe(0);
  });

  it("rolls back when nobody answers within the timeout, naming ApprovalTimedOut", async () => {
    const run = await runPipeline({
      plan: testPlan({ approval: { wait: "beforePromote", timeoutSeconds: 1 } }),
      stages: {
        RequestApproval: async (input) => ({ at: (input as ApprovalRequest).at, expiresAt: "soon" }),
      },
    });

    expect(failure(run).Error).toBe("RolledBack");
    expect(run.path.slice(-4)).toEqual([
      "WaitForApprovalBeforePromote",
      "ApprovalTimedOut",
      "Rollback",
      "RolledBack",
    ]);
    const rollback = run.calls.find((c) => c.fn === "Rollback")?.input as {
      error: { Error: string; Cause: string };
    };
    expect(rollback.error.Error).toBe("ApprovalTimedOut");
    expect(rollback.error.Cause).toContain("No one approved or rejected llama v2 within 1 s");
  });

  it("asks again with a new token when its function failed for a passing reason", async () => {
    const tokens = new LocalTaskTokens();
    const seen: string[] = [];
    const run = await runPipeline({
      plan: beforePromote,
      taskTokens: tokens,
      stages: {
        RequestApproval: async (input) => {
          const { token, at } = input as ApprovalRequest;
          seen.push(token);
          if (seen.length === 1) throw Object.assign(new Error("throttled"), { name: "Transient" });
          setImmediate(() => tokens.succeed(token, { approvedBy: "dave" }));
          return { at, expiresAt: "later" };
        },
      },
    });

    expect(run.result.status).toBe("SUCCEEDED");
    expect(seen).toHaveLength(2);
    expect(seen[0]).not.toBe(seen[1]);
    // The first attempt's token is gone: an answer to it finds no task.
    expect(tokens.succeed(seen[0] ?? "", {})).toBe(false);
  });

  it("is not asked for when the manifest approves automatically", async () => {
    const run = await runPipeline();

    expect(run.result.status).toBe("SUCCEEDED");
    expect(run.count("RequestApproval")).toBe(0);
  });
});
