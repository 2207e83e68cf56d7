// A rollout waiting for approval: RequestApproval keeps the Task's token with the rollout record and
// announces the wait without it; "Approve Requested", "Reject Requested" and the model registry's status
// answer the token, saying who; a rollback meanwhile releases it. The registry's status change comes as AWS's
// documented example of the event has it, and who set it and why are read from the registry's version.

import {
  DescribeModelPackageCommand,
  type DescribeModelPackageOutput,
  SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { SageMakerRegistry } from "../../lib/aws/sagemaker-registry";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { type CommandEvent, handleCommand } from "../../lib/pipeline/commands";
import { requestApproval } from "../../lib/pipeline/request-approval";
import type { ApprovalStatus } from "../../lib/ports";
import {
  CANARY_FLOW as flow,
  type CanaryWorld,
  canaryWorld,
  MODEL,
  rolloutThroughGates,
} from "../support/canary-world";
import type { RecordingExecutions } from "../support/recording-executions";
import { modelPackageStateChange } from "../support/sagemaker-events";

const TOKEN = "task-token-of-attempt-1";

function command(
  type: CommandEvent["detail-type"],
  detail: Partial<CommandEvent["detail"]> = {},
): CommandEvent {
  return { "detail-type": type, detail: { model: MODEL, requestedBy: "alice", ...detail } };
}

const BOB = "arn:aws:sts::123456789012:assumed-role/reviewers/bob";

/** A person sets the version's status in the registry, which then sends its state-change event. */
function setInRegistry(world: CanaryWorld, version: string, status: ApprovalStatus, reason: string) {
  const id = world.registry.setStatusAs(BOB, MODEL, version, status, reason);
  return modelPackageStateChange({ arn: id, status });
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

  it("takes the model registry's Rejected as a rejection by whoever set it, with the reason they gave", async () => {
    const outcome = await handleCommand(setInRegistry(world, "v1", "Rejected", "not this week"), world);

    expect(outcome.status).toBe("done");
    expect(executions.answers).toEqual([
      {
        token: TOKEN,
        error: "ApprovalRejected",
        cause: `llama v1 was rejected by ${BOB} in the model registry: not this week.`,
      },
    ]);
  });

  it("ignores a registry status of another rollout's version, and a status changed again since", async () => {
    const v1 = world.registry.entry(MODEL, "v1");
    await world.registry.register({ ...v1!.entry, version: "v0", rolloutId: "llama-v0-00000000" });
    const other = await handleCommand(setInRegistry(world, "v0", "Approved", "old one"), world);
    const approved = setInRegistry(world, "v1", "Approved", "fine");
    setInRegistry(world, "v1", "PendingManualApproval", "on second thought");
    const stale = await handleCommand(approved, world);
    const pending = await handleCommand(
      modelPackageStateChange({ arn: v1!.id, status: "PendingManualApproval" }),
      world,
    );

    expect([other.status, stale.status, pending.status]).toEqual([
      "nothing to do",
      "nothing to do",
      "nothing to do",
    ]);
    expect(stale.message).toBe(
      `${v1!.id} is PendingManualApproval now, no longer Approved: the event of its latest change answers.`,
    );
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

describe("The SageMaker Model Registry's approval button", () => {
  const sagemaker = mockClient(SageMakerClient);
  const ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/llama/7";
  let world: CanaryWorld;
  let executions: RecordingExecutions;
  let state: ExecutionState;
  /** The Command's deps on AWS: the registry is SageMaker's, answering DescribeModelPackage. */
  let deps: CanaryWorld;

  function packageDescribed(output: Partial<DescribeModelPackageOutput>): void {
    sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: ARN }).resolves({
      ModelPackageArn: ARN,
      ModelPackageGroupName: MODEL,
      ModelPackageVersion: 7,
      CustomerMetadataProperties: {
        "modelship:model": MODEL,
        "modelship:version": "v1",
        "modelship:rolloutId": state.rollout.id,
      },
      ...output,
    });
  }

  beforeEach(async () => {
    sagemaker.reset();
    world = canaryWorld();
    executions = world.executions as RecordingExecutions;
    state = await flow.registerGateway(await rolloutThroughGates(world, "v1"), world);
    await requestApproval({ state, token: TOKEN, at: "beforePromote", timeoutSeconds: 3600 }, world);
    const registry = new SageMakerRegistry({ client: new SageMakerClient({ region: "us-east-1" }) });
    deps = { ...world, registry } as unknown as CanaryWorld;
  });

  it("approves the rollout the package names, as the IAM principal that set Approved", async () => {
    packageDescribed({
      ModelApprovalStatus: "Approved",
      LastModifiedBy: { IamIdentity: { Arn: BOB } },
    });

    const outcome = await handleCommand(modelPackageStateChange({ arn: ARN, status: "Approved" }), deps);

    expect(outcome).toMatchObject({ model: MODEL, status: "done" });
    expect(sagemaker.commandCalls(DescribeModelPackageCommand).map((c) => c.args[0].input)).toEqual([
      { ModelPackageName: ARN },
    ]);
    expect(executions.answers).toEqual([
      {
        token: TOKEN,
        output: { approvedBy: BOB, via: "registry", at: world.clock.now().toISOString() },
      },
    ]);
    expect((await world.store.get(MODEL))?.history.at(-1)).toMatchObject({
      stage: "Approved",
      reason: `Approved by ${BOB} in the model registry.`,
    });
  });

  it("rejects it with the ApprovalDescription as the reason, so the rollback says why", async () => {
    packageDescribed({
      ModelApprovalStatus: "Rejected",
      ApprovalDescription: "hallucinates dates",
      LastModifiedBy: {
        UserProfileName: "carol",
        IamIdentity: { Arn: "arn:aws:sts::123456789012:assumed-role/studio/SageMaker" },
      },
    });

    const outcome = await handleCommand(modelPackageStateChange({ arn: ARN, status: "Rejected" }), deps);

    expect(outcome.status).toBe("done");
    expect(executions.answers).toEqual([
      {
        token: TOKEN,
        error: "ApprovalRejected",
        cause:
          "llama v1 was rejected by arn:aws:sts::123456789012:assumed-role/studio/SageMaker (SageMaker Studio user carol) in the model registry: hallucinates dates.",
      },
    ]);
  });

  it("answers nothing for a package modelship did not register", async () => {
    packageDescribed({ ModelApprovalStatus: "Approved", CustomerMetadataProperties: { team: "search" } });

    const outcome = await handleCommand(modelPackageStateChange({ arn: ARN, status: "Approved" }), deps);

    expect(outcome).toEqual({
      status: "nothing to do",
      message: `${ARN} was not registered by modelship (no modelship:model and modelship:rolloutId): nothing to answer.`,
    });
    expect(executions.answers).toEqual([]);
  });

  it("throws when the package cannot be described, leaving the approval waiting for the retry", async () => {
    sagemaker
      .on(DescribeModelPackageCommand)
      .rejects(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));

    await expect(
      handleCommand(modelPackageStateChange({ arn: ARN, status: "Approved" }), deps),
    ).rejects.toMatchObject({ name: "Transient" });
    expect(executions.answers).toEqual([]);
    expect((await world.store.get(MODEL))?.approval?.token).toBe(TOKEN);
  });
});
