import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { DescribeClusterCommand, EKSClient } from "@aws-sdk/client-eks";
import { ListModelPackagesCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";
import { CreateScheduleCommand, DeleteScheduleCommand, SchedulerClient } from "@aws-sdk/client-scheduler";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { readLambdaEnvironment } from "../../lib/aws/lambda/environment";
import { buildAwsStageDeps } from "../../lib/aws/lambda/stage-deps";

const eks = mockClient(EKSClient);
const scheduler = mockClient(SchedulerClient);
const sagemaker = mockClient(SageMakerClient);
const cloudwatch = mockClient(CloudWatchClient);

const BASE = {
  MODELSHIP_BUCKET: "models-bucket",
  MODELSHIP_TABLE: "rollouts",
  MODELSHIP_EVENT_BUS: "modelship",
  MODELSHIP_CONFIG: JSON.stringify({ clusterName: "gpu-east", canaryMetrics: { namespace: "llm-canary" } }),
};
const PROBER_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:Modelship-ProberFunction-AbC123";
const ROLE_ARN = "arn:aws:iam::123456789012:role/Modelship-SchedulerRole-XyZ";
const STARTS_PROBER = {
  ...BASE,
  MODELSHIP_SCHEDULE_GROUP: "modelship-probers",
  MODELSHIP_PROBER_FUNCTION_ARN: PROBER_ARN,
  MODELSHIP_SCHEDULER_ROLE_ARN: ROLE_ARN,
};
const target = { model: "llama", version: "v2", rolloutId: "llama-v2-0a1b2c3d", everySeconds: 10 };

beforeAll(() => vi.stubEnv("AWS_REGION", "eu-west-1"));
afterAll(() => vi.unstubAllEnvs());
beforeEach(() => {
  for (const mock of [eks, scheduler, sagemaker, cloudwatch]) mock.reset();
  scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: "arn:schedule" });
  scheduler.on(DeleteScheduleCommand).resolves({});
});

describe("The AWS stage dependencies", () => {
  it("start the prober with the function, role and group the construct hands a function that arms canaries", async () => {
    const deps = buildAwsStageDeps(readLambdaEnvironment(STARTS_PROBER));
    await deps.metrics.startProber(target);
    const input = scheduler.commandCalls(CreateScheduleCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      GroupName: "modelship-probers",
      Target: { Arn: PROBER_ARN, RoleArn: ROLE_ARN },
    });
  });

  it("refuse to start a prober in a function not given its ARN and role, naming the variables, and send nothing", async () => {
    const deps = buildAwsStageDeps(
      readLambdaEnvironment({ ...BASE, MODELSHIP_SCHEDULE_GROUP: "modelship-probers" }),
    );
    await expect(deps.metrics.startProber(target)).rejects.toThrow(
      /may not start a prober.*MODELSHIP_PROBER_FUNCTION_ARN and MODELSHIP_SCHEDULER_ROLE_ARN/,
    );
    expect(scheduler.calls()).toHaveLength(0);
  });

  it("stop a prober in the schedule group the environment names, and refuse without one", async () => {
    const stopping = buildAwsStageDeps(
      readLambdaEnvironment({ ...BASE, MODELSHIP_SCHEDULE_GROUP: "modelship-probers" }),
    );
    await stopping.metrics.stopProber("llama", "v2");
    expect(scheduler.commandCalls(DeleteScheduleCommand)[0]?.args[0].input).toEqual({
      Name: "modelship-llama-v2",
      GroupName: "modelship-probers",
    });
    const other = buildAwsStageDeps(readLambdaEnvironment(BASE));
    await expect(other.metrics.stopProber("llama", "v2")).rejects.toThrow(/MODELSHIP_SCHEDULE_GROUP/);
  });

  it("publish probe metrics in the stack's namespace from any function", async () => {
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, "write").mockImplementation((line) => {
      lines.push(String(line));
      return true;
    });
    try {
      const deps = buildAwsStageDeps(readLambdaEnvironment(BASE));
      await deps.metrics.publish([
        {
          model: "llama",
          version: "v2",
          variant: "candidate",
          latencyMs: 120,
          error: false,
          at: "2025-01-01T10:00:00.000Z",
        },
      ]);
    } finally {
      write.mockRestore();
    }
    expect(lines.map((line) => JSON.parse(line)._aws.CloudWatchMetrics[0].Namespace)).toEqual(["llm-canary"]);
  });

  it("describe the stack's cluster only when a port that talks to it is used, not for the registry or the alarms", async () => {
    sagemaker.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [] });
    cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [], CompositeAlarms: [] });
    eks
      .on(DescribeClusterCommand)
      .rejects(Object.assign(new Error("No cluster found"), { name: "ResourceNotFoundException" }));
    const deps = buildAwsStageDeps(readLambdaEnvironment(BASE));

    expect(await deps.registry.getStatus("llama", "v2")).toBeUndefined();
    expect(await deps.alarms.states(["modelship-llama-v2-rollback"])).toEqual([]);
    expect(eks.calls()).toHaveLength(0);

    await expect(deps.gateway.describe("llama")).rejects.toThrow(/gpu-east/);
    expect(eks.commandCalls(DescribeClusterCommand)[0]?.args[0].input).toEqual({ name: "gpu-east" });
  });
});
