// A rollout waiting for approval: RequestApproval keeps the Task's token with the rollout record and
// announces the wait without it; "Approve Requested", "Reject Requested" and the model registry's status
// answer the token, saying who; a rollback meanwhile releases it.

import { beforeEach, describe, expect, it } from "vitest";
import type { ExecutionState } from "../../lib/core/rollout";
import { type CommandEvent, handleCommand, type RegistryStateChangeEvent } from "../../lib/pipeline/commands";
import { requestApproval } from "../../lib/pipeline/request-approval";
import {
  CANARY_FLOW as flow,
  type CanaryWorld,
  canaryWorld,
  MODEL,
  rolloutThroughGates,
} from "../support/canary-world";
import type { RecordingExecutions } from "../support/recording-executions";

const TOKEN = "task-token-of-attempt-1";

function command(
  type: CommandEvent["detail-type"],
  detail: Partial<CommandEvent["detail"]> = {},
): CommandEvent {
  return { "detail-type": type, detail: { model: MODEL, requestedBy: "alice", ...detail } };
}

function registryChange(status: string, rolloutId: string): RegistryStateChangeEvent {
  return {
    "detail-type": "SageMaker Model Package State Change",
    detail: {
      ModelApprovalStatus: status,
      ApprovalDescription: "not this week",
      CustomerMetadataProperties: { "modelship:model": MODEL, "modelship:rolloutId": rolloutId },
      LastModifiedBy: { IamIdentity: { Arn: "arn:aws:sts::123456789012:assumed-role/reviewers/bob" } },
    },
  };
}

describe("Waiting for approval", () => {
  let world: CanaryWorld;
  let executions: RecordingExecutions;
  let state: ExecutionState;
  beforeEach(async () => {
    world = canaryWorld();
    executions = world.executions as RecordingExecutions;
    state = await flow.registerGateway(await rolloutThroughGates(world, "v1"), world);
    world.events.emitted.length = 0;
    await requestApproval({ state, token: TOKEN, at: "beforePromote", timeoutSeconds: 3600 }, world);
  });

  it("keeps the token with the rollout record and announces the wait, with the gates, but never the token", async () => {
    const record = await world.store.get(MODEL);
    expect(record?.approval).toEqual({
      rolloutId: state.rollout.id,
      version: "v1",
      token: TOKEN,
      at: "beforePromote",
      since: world.clock.now().toISOString(),
      expiresAt: new Date(world.clock.now().getTime() + 3_600_000).toISOString(),
    });
    const [event] = world.events.ofType("Approval Requested");
    expect(event?.detail.message).toContain("llama v1 waits for approval before its promotion");
    expect(event?.detail.data).toMatchObject({ at: "beforePromote", timeoutSeconds: 3600 });
    expect(Object.keys(event?.detail.data?.["gates"] as object)).toEqual(
      expect.arrayContaining(["validation", "smoke"]),
    );
    expect(JSON.stringify(world.events.emitted)).not.toContain(TOKEN);
  });

  it("asked again for the same attempt records nothing more", async () => {
    const before = (await world.store.get(MODEL))?.history.length;
    await requestApproval({ state, token: TOKEN, at: "beforePromote", timeoutSeconds: 3600 }, world);
    expect((await world.store.get(MODEL))?.history.length).toBe(before);
    expect(world.events.ofType("Approval Requested")).toHaveLength(1);
  });

  it("goes on when approved, with who approved as the Task's result, and forgets the token", async () => {
    const outcome = await handleCommand(command("Approve Requested", { reason: "evals look fine" }), world);

    expect(outcome).toMatchObject({ command: "Approve Requested", status: "done" });
    expect(outcome.message).toContain("Approved by alice: evals look fine.");
    expect(executions.answers).toEqual([
      {
        token: TOKEN,
        output: {
          approvedBy: "alice",
          via: "command",
          at: world.clock.now().toISOString(),
          reason: "evals look fine",
        },
      },
    ]);
    const record = await world.store.get(MODEL);
    expect(record?.approval).toBeUndefined();
    expect(record?.history.at(-1)).toMatchObject({
      stage: "Approved",
      reason: "Approved by alice: evals look fine.",
    });
  });

  it("fails the Task with ApprovalRejected when rejected, saying who and why", async () => {
    const outcome = await handleCommand(command("Reject Requested", { reason: "wrong tone" }), world);

    expect(outcome.status).toBe("done");
    expect(executions.answers).toEqual([
      { token: TOKEN, error: "ApprovalRejected", cause: "llama v1 was rejected by alice: wrong tone." },
    ]);
  });

  it("takes the model registry's Rejected as a rejection by whoever set it", async () => {
    const outcome = await handleCommand(registryChange("Rejected", state.rollout.id), world);

    expect(outcome.status).toBe("done");
    expect(executions.answers).toEqual([
      {
        token: TOKEN,
        error: "ApprovalRejected",
        cause:
          "llama v1 was rejected by arn:aws:sts::123456789012:assumed-role/reviewers/bob in the model registry: not this week.",
      },
    ]);
  });

  it("ignores a registry status for another rollout, and modelship's own status changes", async () => {
    const other = await handleCommand(registryChange("Approved", "llama-v0-00000000"), world);
    const pending = await handleCommand(registryChange("PendingManualApproval", state.rollout.id), world);

    expect([other.status, pending.status]).toEqual(["nothing to do", "nothing to do"]);
    expect(executions.answers).toEqual([]);
  });

  it("answers once: a second approval finds nothing waiting", async () => {
    await handleCommand(command("Approve Requested"), world);
    const again = await handleCommand(command("Reject Requested"), world);

    expect(again.status).toBe("refused");
    expect(again.message).toContain("llama v1 is not waiting for approval: Approved by alice.");
    expect(executions.answers).toHaveLength(1);
  });

  it("is released with RolledBack when a rollback comes first, so the execution does not wait for its timeout", async () => {
    const outcome = await handleCommand(command("Rollback Requested", { reason: "pager" }), world);

    expect(outcome.status).toBe("done");
    expect(outcome.message).toContain("Its execution stopped waiting for approval.");
    expect(executions.answers).toEqual([
      {
        token: TOKEN,
        error: "RolledBack",
        cause: expect.stringContaining("a rollback was requested by alice"),
      },
    ]);
    const approve = await handleCommand(command("Approve Requested"), world);
    expect(approve).toMatchObject({ status: "refused" });
  });
});

describe("An approval for a rollout that does not wait", () => {
  it("is refused, saying the rollout is not waiting", async () => {
    const world = canaryWorld();
    await flow.registerGateway(await rolloutThroughGates(world, "v1"), world);

    const outcome = await handleCommand(command("Approve Requested"), world);

    expect(outcome.status).toBe("refused");
    expect(outcome.message).toContain("llama v1 is not waiting for approval");
    expect((world.executions as RecordingExecutions).answers).toEqual([]);
  });
});
