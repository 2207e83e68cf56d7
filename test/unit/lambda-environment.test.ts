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
