import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { StepFunctionsExecutions } from "../../../lib/aws/sfn-executions";
import type { ExecutionInput } from "../../../lib/core/rollout/rollout";

const sfn = mockClient(SFNClient);
const client = new SFNClient({ region: "us-east-1" });
const STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:modelship-pipeline";
const NAME = "llama-v2-0a1b2c3d";
const EXECUTION = `arn:aws:states:us-east-1:123456789012:execution:modelship-pipeline:${NAME}`;
const input: ExecutionInput = {
  rollout: {
    id: NAME,
    model: "llama",
    version: "v2",
    source: { bucket: "b", key: "models/llama/v2/modelship.yaml", prefix: "models/llama/v2/", etag: "e" },
  },
};

describe("StepFunctionsExecutions", () => {
  let executions: StepFunctionsExecutions;
  beforeEach(() => {
    sfn.reset();
    executions = new StepFunctionsExecutions({ stateMachineArn: STATE_MACHINE, client });
  });

  it("starts the execution under the rollout's name with the input as JSON", async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    expect(await executions.start(NAME, input)).toEqual({ executionId: EXECUTION, alreadyStarted: false });
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input).toEqual({
      stateMachineArn: STATE_MACHINE,
      name: NAME,
      input: JSON.stringify(input),
    });
  });

  it("reports a closed or different execution of the same name as already started, with its ARN", async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(
        new ExecutionAlreadyExists({ message: `Execution Already Exists: '${EXECUTION}'`, $metadata: {} }),
      );
    expect(await executions.start(NAME, input)).toEqual({ executionId: EXECUTION, alreadyStarted: true });
  });

  it("reports a running execution handed back for the same name and input as already started", async () => {
    const startedEarlier = new Date(Date.now() - 5 * 60_000);
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: startedEarlier });
    expect(await executions.start(NAME, input)).toEqual({ executionId: EXECUTION, alreadyStarted: true });
  });

  it("turns throttling into Transient", async () => {
    sfn.on(StartExecutionCommand).rejects(
      Object.assign(new Error("Rate exceeded"), {
        name: "ThrottlingException",
        $metadata: { httpStatusCode: 400 },
      }),
    );
    await expect(executions.start(NAME, input)).rejects.toMatchObject({ name: "Transient" });
  });

  it("lets a bad name through as it is", async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(
        Object.assign(new Error("Invalid Name"), { name: "InvalidName", $metadata: { httpStatusCode: 400 } }),
      );
    await expect(executions.start("bad name", input)).rejects.toMatchObject({ name: "InvalidName" });
  });

  it("refuses an ARN that is not a state machine's", () => {
    expect(() => new StepFunctionsExecutions({ stateMachineArn: EXECUTION, client })).toThrow(
      "is not a state machine ARN",
    );
  });
});
