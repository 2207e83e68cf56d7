import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  SchedulerClient,
  UpdateScheduleCommand,
} from "@aws-sdk/client-scheduler";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { CloudWatchMetrics, type CloudWatchMetricsOptions } from "../../../lib/aws/cloudwatch-metrics";
import type { Observation, ProberTarget } from "../../../lib/ports";
import { FixedClock } from "../../support/fixed-clock";

const scheduler = mockClient(SchedulerClient);
const client = new SchedulerClient({ region: "us-east-1" });
const PROBER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:modelship-Prober";
const ROLE_ARN = "arn:aws:iam::123456789012:role/modelship-ProberSchedule";

const target: ProberTarget = {
  model: "llama-3-8b",
  version: "v2",
  rolloutId: "llama-3-8b-v2-0a1b2c3d",
  everySeconds: 10,
};

function awsError(name: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode } });
}

describe("CloudWatchMetrics", () => {
  let lines: string[];
  let metrics: CloudWatchMetrics;
  const build = (overrides: Partial<CloudWatchMetricsOptions> = {}) =>
    new CloudWatchMetrics({
      namespace: "modelship",
      proberFunctionArn: PROBER_ARN,
      schedulerRoleArn: ROLE_ARN,
      scheduleGroup: "modelship",
      client,
      clock: new FixedClock("2025-06-01T12:00:00.000Z"),
      write: (line) => lines.push(line),
      ...overrides,
    });
  beforeEach(() => {
    scheduler.reset();
    lines = [];
    metrics = build();
  });

  describe("publish", () => {
    it("writes each observation batch as EMF lines with exactly the alarms' dimensions, at high resolution", async () => {
      const observation = (
        variant: "stable" | "candidate",
        latencyMs: number,
        error: boolean,
      ): Observation => ({
        model: "llama-3-8b",
        version: variant === "stable" ? "v1" : "v2",
        variant,
        latencyMs,
        error,
        at: "2025-06-01T12:00:03.250Z",
      });

      await metrics.publish([
        observation("candidate", 412, false),
        observation("stable", 380, false),
        observation("candidate", 950, true),
      ]);

      const definition = {
        Namespace: "modelship",
        Dimensions: [["Model", "Version", "Variant", "Source"]],
        Metrics: [
          { Name: "Latency", Unit: "Milliseconds", StorageResolution: 1 },
          { Name: "Errors", Unit: "Count", StorageResolution: 1 },
          { Name: "Requests", Unit: "Count", StorageResolution: 1 },
        ],
      };
      const timestamp = Date.parse("2025-06-01T12:00:03.000Z");
      expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([
        {
          _aws: { Timestamp: timestamp, CloudWatchMetrics: [definition] },
          Model: "llama-3-8b",
          Version: "v2",
          Variant: "candidate",
          Source: "probe",
          Latency: [412, 950],
          Errors: [0, 1],
          Requests: [1, 1],
        },
        {
          _aws: { Timestamp: timestamp, CloudWatchMetrics: [definition] },
          Model: "llama-3-8b",
          Version: "v1",
          Variant: "stable",
          Source: "probe",
          Latency: [380],
          Errors: [0],
          Requests: [1],
        },
      ]);
      expect(lines.every((line) => !line.includes("\n"))).toBe(true);
    });

    it("writes nothing for no observations", async () => {
      await metrics.publish([]);
      expect(lines).toEqual([]);
    });
  });

  describe("publishTraffic", () => {
    it("writes each window of real traffic as one EMF line with its Source, at the window's end", async () => {
      await metrics.publishTraffic([
        {
          model: "llama-3-8b",
          version: "v2",
          variant: "candidate",
          source: "prometheus",
          at: "2025-06-01T12:00:10.000Z",
          values: { Requests: 31, LatencyP95: 2210 },
        },
      ]);
      expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([
        {
          _aws: {
            Timestamp: Date.parse("2025-06-01T12:00:10.000Z"),
            CloudWatchMetrics: [
              {
                Namespace: "modelship",
                Dimensions: [["Model", "Version", "Variant", "Source"]],
                Metrics: [
                  { Name: "Requests", Unit: "Count", StorageResolution: 1 },
                  { Name: "LatencyP95", Unit: "Milliseconds", StorageResolution: 1 },
                ],
              },
            ],
          },
          Model: "llama-3-8b",
          Version: "v2",
          Variant: "candidate",
          Source: "prometheus",
          Requests: 31,
          LatencyP95: 2210,
        },
      ]);
    });
  });

  describe("startProber", () => {
    it("schedules the prober every minute with its target as input, no flexible window, no retries and a self-deleting end date", async () => {
      await metrics.startProber(target);

      expect(scheduler.commandCalls(CreateScheduleCommand).map((c) => c.args[0].input)).toEqual([
        {
          Name: "modelship-llama-3-8b-v2",
          GroupName: "modelship",
          Description: "modelship prober of llama-3-8b v2 (rollout llama-3-8b-v2-0a1b2c3d)",
          ScheduleExpression: "rate(1 minute)",
          FlexibleTimeWindow: { Mode: "OFF" },
          EndDate: new Date("2025-06-02T12:00:00.000Z"),
          ActionAfterCompletion: "DELETE",
          State: "ENABLED",
          Target: {
            Arn: PROBER_ARN,
            RoleArn: ROLE_ARN,
            Input: JSON.stringify({
              model: "llama-3-8b",
              version: "v2",
              rolloutId: "llama-3-8b-v2-0a1b2c3d",
              everySeconds: 10,
            }),
            RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
          },
        },
      ]);
    });

    it("runs the prober every so many minutes when its rounds are a minute or more apart", async () => {
      await metrics.startProber({ ...target, everySeconds: 120 });
      await build({ safetyNetHours: 2 }).startProber({ ...target, everySeconds: 45 });

      const inputs = scheduler.commandCalls(CreateScheduleCommand).map((c) => c.args[0].input);
      expect(inputs.map((i) => i.ScheduleExpression)).toEqual(["rate(2 minutes)", "rate(1 minute)"]);
      expect(inputs[1]?.EndDate).toEqual(new Date("2025-06-01T14:00:00.000Z"));
    });

    it("brings an existing schedule up to date instead of failing when the stage is retried", async () => {
      scheduler
        .on(CreateScheduleCommand)
        .rejects(awsError("ConflictException", "Schedule already exists.", 409));
      scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: "arn:…" });

      await metrics.startProber(target);

      const created = scheduler.commandCalls(CreateScheduleCommand)[0]?.args[0].input;
      expect(scheduler.commandCalls(UpdateScheduleCommand).map((c) => c.args[0].input)).toEqual([created]);
    });

    it("keeps schedule names within 64 characters, telling long versions apart by a hash", async () => {
      const long = "2025-06-01-finetune-run-with-a-very-long-descriptive-name";
      await metrics.startProber({ ...target, version: `${long}-a` });
      await metrics.startProber({ ...target, version: `${long}-b` });

      const names = scheduler.commandCalls(CreateScheduleCommand).map((c) => c.args[0].input.Name ?? "");
      for (const name of names) expect(name).toMatch(/^[0-9a-zA-Z_.-]{1,64}$/);
      expect(names[0]).not.toBe(names[1]);
    });

    it("reports throttling as Transient and names the permissions when it is denied", async () => {
      scheduler.on(CreateScheduleCommand).rejectsOnce(awsError("ThrottlingException", "Rate exceeded"));
      await expect(metrics.startProber(target)).rejects.toMatchObject({ name: "Transient" });

      scheduler.on(CreateScheduleCommand).rejects(awsError("AccessDeniedException", "not authorized", 403));
      await expect(metrics.startProber(target)).rejects.toThrow(/iam:PassRole on the scheduler role/);
    });
  });

  describe("stopProber", () => {
    it("deletes the version's schedule, and deleting it twice is fine", async () => {
      scheduler
        .on(DeleteScheduleCommand)
        .resolvesOnce({})
        .rejects(
          awsError("ResourceNotFoundException", "Schedule modelship-llama-3-8b-v2 does not exist.", 404),
        );

      await metrics.stopProber("llama-3-8b", "v2");
      await metrics.stopProber("llama-3-8b", "v2");

      expect(scheduler.commandCalls(DeleteScheduleCommand).map((c) => c.args[0].input)).toEqual([
        { Name: "modelship-llama-3-8b-v2", GroupName: "modelship" },
        { Name: "modelship-llama-3-8b-v2", GroupName: "modelship" },
      ]);
    });
  });
});
