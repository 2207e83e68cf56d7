import { describe, expect, it } from "vitest";
import { readLambdaEnvironment } from "../../lib/aws/lambda/environment";

const complete = {
  MODELSHIP_BUCKET: "models-bucket",
  MODELSHIP_TABLE: "rollouts",
  MODELSHIP_EVENT_BUS: "modelship",
  MODELSHIP_CONFIG: JSON.stringify({ clusterName: "gpu-east" }),
};

function messageOf(attempt: () => unknown): string {
  try {
    attempt();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected it to throw");
}

describe("readLambdaEnvironment", () => {
  it("reads the bucket, table, bus and config, with the config's defaults filled in", () => {
    const env = readLambdaEnvironment(complete);
    expect(env).toMatchObject({ bucket: "models-bucket", table: "rollouts", eventBus: "modelship" });
    expect(env.config.clusterName).toBe("gpu-east");
    expect(env.config.namespace).toBe("models");
    expect(env.stateMachineArn).toBeUndefined();
  });

  it("reads the state machine ARN where it is set (the Start function)", () => {
    const arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:modelship-pipeline";
    expect(readLambdaEnvironment({ ...complete, MODELSHIP_STATE_MACHINE_ARN: arn }).stateMachineArn).toBe(
      arn,
    );
  });

  it("reads the prober's function, the scheduler role and the schedule group where they are set (CanaryStep, Promote)", () => {
    const env = readLambdaEnvironment({
      ...complete,
      MODELSHIP_SCHEDULE_GROUP: "modelship-probers",
      MODELSHIP_PROBER_FUNCTION_ARN: "arn:aws:lambda:eu-west-1:123456789012:function:Modelship-Prober-1AbC",
      MODELSHIP_SCHEDULER_ROLE_ARN: "arn:aws:iam::123456789012:role/Modelship-SchedulerRole-2XyZ",
    });
    expect(env.scheduleGroup).toBe("modelship-probers");
    expect(env.prober).toEqual({
      functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:Modelship-Prober-1AbC",
      schedulerRoleArn: "arn:aws:iam::123456789012:role/Modelship-SchedulerRole-2XyZ",
    });
    expect(readLambdaEnvironment(complete).prober).toBeUndefined();
  });

  it("refuses a prober ARN without the scheduler role and group, and values that are not what they name", () => {
    const half = messageOf(() =>
      readLambdaEnvironment({
        ...complete,
        MODELSHIP_PROBER_FUNCTION_ARN: "arn:aws:lambda:eu-west-1:123456789012:function:prober",
      }),
    );
    expect(half).toContain("MODELSHIP_SCHEDULER_ROLE_ARN is not set");
    expect(half).toContain("MODELSHIP_SCHEDULE_GROUP is not set");
    const malformed = messageOf(() =>
      readLambdaEnvironment({
        ...complete,
        MODELSHIP_SCHEDULE_GROUP: "probers with spaces",
        MODELSHIP_PROBER_FUNCTION_ARN: "prober",
        MODELSHIP_SCHEDULER_ROLE_ARN: "arn:aws:iam::123456789012:user/someone",
      }),
    );
    expect(malformed).toContain('MODELSHIP_SCHEDULE_GROUP is "probers with spaces"');
    expect(malformed).toContain('MODELSHIP_PROBER_FUNCTION_ARN is "prober"');
    expect(malformed).toContain('MODELSHIP_SCHEDULER_ROLE_ARN is "arn:aws:iam::123456789012:user/someone"');
  });

  it("names every missing variable in one error", () => {
    const message = messageOf(() => readLambdaEnvironment({}));
    for (const name of ["MODELSHIP_BUCKET", "MODELSHIP_TABLE", "MODELSHIP_EVENT_BUS", "MODELSHIP_CONFIG"]) {
      expect(message).toContain(`${name} is not set`);
    }
  });

  it("says what is wrong with a config that is not JSON or breaks the stack config's rules", () => {
    expect(
      messageOf(() => readLambdaEnvironment({ ...complete, MODELSHIP_CONFIG: "{clusterName" })),
    ).toContain("MODELSHIP_CONFIG is not JSON");
    const invalid = JSON.stringify({ namespace: "Not_A_Name", gpu: { memoryGiB: 0 } });
    const message = messageOf(() => readLambdaEnvironment({ ...complete, MODELSHIP_CONFIG: invalid }));
    expect(message).toContain("namespace");
    expect(message).toContain("gpu.memoryGiB");
  });
});
