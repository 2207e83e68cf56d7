import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type MetricAlarm,
  type MetricDataQuery,
  PutCompositeAlarmCommand,
  PutMetricAlarmCommand,
} from "@aws-sdk/client-cloudwatch";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { CloudWatchAlarms } from "../../../lib/aws/cloudwatch-alarms";
import type { CompositeAlarmSpec, MetricAlarmSpec } from "../../../lib/core/alarms/alarm-spec";
import { canarySpecs } from "../../support/canary-alarm-specs";
import { FixedClock } from "../../support/fixed-clock";

const cloudwatch = mockClient(CloudWatchClient);
const client = new CloudWatchClient({ region: "us-east-1" });
const PREFIX = "modelship-llama-3-8b-v2";
const candidate = { Model: "llama-3-8b", Version: "v2", Variant: "candidate" };
const candidateDimensions = [
  { Name: "Model", Value: "llama-3-8b" },
  { Name: "Version", Value: "v2" },
  { Name: "Variant", Value: "candidate" },
];

/** A query of the candidate's `metricName` summed per 10 s, as `id`: an input of an alarm's metric math. */
function candidateSum(id: string, metricName: string): MetricDataQuery {
  return {
    Id: id,
    MetricStat: {
      Metric: { Namespace: "modelship", MetricName: metricName, Dimensions: candidateDimensions },
      Period: 10,
      Stat: "Sum",
    },
    ReturnData: false,
  };
}

const latency: MetricAlarmSpec = {
  kind: "metric",
  name: `${PREFIX}-latency`,
  description: "llama-3-8b v2: candidate p95 latency above 2000 ms",
  threshold: 2000,
  comparison: "GreaterThanThreshold",
  periodSeconds: 10,
  evaluationPeriods: 3,
  datapointsToAlarm: 3,
  treatMissingData: "notBreaching",
  metric: { namespace: "modelship", metricName: "Latency", dimensions: candidate, extendedStatistic: "p95" },
  evaluateLowSampleCountPercentile: "ignore",
};

const errorRate: MetricAlarmSpec = {
  kind: "metric",
  name: `${PREFIX}-errors`,
  description: "llama-3-8b v2: candidate error rate above 2%",
  threshold: 2,
  comparison: "GreaterThanThreshold",
  periodSeconds: 10,
  evaluationPeriods: 3,
  datapointsToAlarm: 2,
  treatMissingData: "missing",
  metrics: [
    {
      id: "errors",
      metricStat: {
        metric: { namespace: "modelship", metricName: "Errors", dimensions: candidate },
        periodSeconds: 10,
        stat: "Sum",
      },
      returnData: false,
    },
    {
      id: "requests",
      metricStat: {
        metric: { namespace: "modelship", metricName: "Requests", dimensions: candidate },
        periodSeconds: 10,
        stat: "Sum",
      },
      returnData: false,
    },
    {
      id: "rate",
      expression: "100 * errors / MAX([requests, 1])",
      label: "Error rate (%)",
      returnData: true,
    },
  ],
};

const requests: MetricAlarmSpec = {
  ...latency,
  name: `${PREFIX}-requests`,
  description: "llama-3-8b v2: no probe answered",
  comparison: "LessThanThreshold",
  threshold: 1,
  metric: { namespace: "modelship", metricName: "Requests", dimensions: candidate, statistic: "Sum" },
};

const composite: CompositeAlarmSpec = {
  kind: "composite",
  name: PREFIX,
  description: "llama-3-8b v2: any canary alarm",
  rule: `ALARM("${PREFIX}-latency") OR ALARM("${PREFIX}-errors")`,
};

function awsError(name: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode } });
}

describe("CloudWatchAlarms", () => {
  let clock: FixedClock;
  let alarms: CloudWatchAlarms;
  beforeEach(() => {
    cloudwatch.reset();
    clock = new FixedClock("2025-06-01T12:00:07.000Z");
    alarms = new CloudWatchAlarms({ client, clock });
  });

  describe("ensure", () => {
    it("sends each metric alarm as PutMetricAlarm: a percentile as ExtendedStatistic, the error rate as metric math, a count as Statistic, at a 10 s period", async () => {
      await alarms.ensure([latency, errorRate, requests]);

      expect(cloudwatch.commandCalls(PutMetricAlarmCommand).map((c) => c.args[0].input)).toEqual([
        {
          AlarmName: `${PREFIX}-latency`,
          AlarmDescription: "llama-3-8b v2: candidate p95 latency above 2000 ms",
          ComparisonOperator: "GreaterThanThreshold",
          Threshold: 2000,
          EvaluationPeriods: 3,
          DatapointsToAlarm: 3,
          TreatMissingData: "notBreaching",
          Namespace: "modelship",
          MetricName: "Latency",
          Dimensions: candidateDimensions,
          ExtendedStatistic: "p95",
          EvaluateLowSampleCountPercentile: "ignore",
          Period: 10,
        },
        {
          AlarmName: `${PREFIX}-errors`,
          AlarmDescription: "llama-3-8b v2: candidate error rate above 2%",
          ComparisonOperator: "GreaterThanThreshold",
          Threshold: 2,
          EvaluationPeriods: 3,
          DatapointsToAlarm: 2,
          TreatMissingData: "missing",
          Metrics: [
            candidateSum("errors", "Errors"),
            candidateSum("requests", "Requests"),
            {
              Id: "rate",
              Expression: "100 * errors / MAX([requests, 1])",
              Label: "Error rate (%)",
              ReturnData: true,
            },
          ],
        },
        {
          AlarmName: `${PREFIX}-requests`,
          AlarmDescription: "llama-3-8b v2: no probe answered",
          ComparisonOperator: "LessThanThreshold",
          Threshold: 1,
          EvaluationPeriods: 3,
          DatapointsToAlarm: 3,
          TreatMissingData: "notBreaching",
          Namespace: "modelship",
          MetricName: "Requests",
          Dimensions: candidateDimensions,
          Statistic: "Sum",
          Period: 10,
        },
      ]);
    });

    it("sends the canary's no-data guard and an alarm whose source is auto as exactly these PutMetricAlarm inputs", async () => {
      const { specs } = canarySpecs({ model: "llama-3-8b" });
      await alarms.ensure(
        specs.filter((s) => s.name.endsWith("-no-probe-data") || s.name.endsWith("-latency-p95")),
      );
      const dimensions = (source: string) => [...candidateDimensions, { Name: "Source", Value: source }];
      const metric = (name: string, source: string) => ({
        Namespace: "modelship",
        MetricName: name,
        Dimensions: dimensions(source),
      });
      expect(cloudwatch.commandCalls(PutMetricAlarmCommand).map((c) => c.args[0].input)).toEqual([
        {
          AlarmName: `${PREFIX}-latency-p95`,
          AlarmDescription:
            "p95 latency of llama-3-8b v2 (real traffic in periods with at least 20 requests, else the prober's chats) above 2000 ms for 3 of 3 10-second periods",
          ComparisonOperator: "GreaterThanThreshold",
          Threshold: 2000,
          EvaluationPeriods: 3,
          DatapointsToAlarm: 3,
          TreatMissingData: "notBreaching",
          Metrics: [
            {
              Id: "traffic_requests",
              MetricStat: { Metric: metric("Requests", "traffic"), Period: 10, Stat: "Sum" },
              ReturnData: false,
            },
            {
              Id: "traffic_p95",
              MetricStat: { Metric: metric("LatencyP95", "traffic"), Period: 10, Stat: "Maximum" },
              ReturnData: false,
            },
            {
              Id: "probe_p95",
              MetricStat: { Metric: metric("Latency", "probe"), Period: 10, Stat: "p95" },
              ReturnData: false,
            },
            {
              Id: "latency_p95",
              Expression: "IF(traffic_requests >= TIME_SERIES(20), traffic_p95, probe_p95)",
              Label: "p95 latency of llama-3-8b v2 (ms)",
              ReturnData: true,
            },
          ],
        },
        {
          AlarmName: `${PREFIX}-no-probe-data`,
          AlarmDescription:
            "the prober sent llama-3-8b v2 fewer than 6 of its 12 requests per 1-minute period for 2 periods in a row, from 2025-06-01T12:03:00.000Z on",
          ComparisonOperator: "LessThanThreshold",
          Threshold: 6,
          EvaluationPeriods: 2,
          DatapointsToAlarm: 2,
          TreatMissingData: "notBreaching",
          Metrics: [
            {
              Id: "requests",
              MetricStat: { Metric: metric("Requests", "probe"), Period: 60, Stat: "Sum" },
              ReturnData: false,
            },
            {
              Id: "probe_requests",
              Expression: "IF(EPOCH(requests) >= 1748779380, requests + TIME_SERIES(0))",
              Label: "probe requests to llama-3-8b v2 per period",
              ReturnData: true,
            },
          ],
        },
      ]);
    });

    it("creates a composite after every alarm it names, even when it is listed first", async () => {
      const outer: CompositeAlarmSpec = {
        kind: "composite",
        name: `${PREFIX}-any`,
        description: "llama-3-8b v2: the canary alarm or the probe alarm",
        rule: `ALARM("${PREFIX}") OR ALARM("${PREFIX}-requests")`,
      };

      await alarms.ensure([outer, composite, latency, errorRate, requests]);

      const order = cloudwatch.calls().map((call) => {
        const input = call.args[0].input as { AlarmName: string };
        return input.AlarmName;
      });
      expect(order).toEqual([
        `${PREFIX}-latency`,
        `${PREFIX}-errors`,
        `${PREFIX}-requests`,
        PREFIX,
        `${PREFIX}-any`,
      ]);
      expect(cloudwatch.commandCalls(PutCompositeAlarmCommand)[0]?.args[0].input).toEqual({
        AlarmName: PREFIX,
        AlarmDescription: "llama-3-8b v2: any canary alarm",
        AlarmRule: `ALARM("${PREFIX}-latency") OR ALARM("${PREFIX}-errors")`,
      });
    });

    it("refuses a spec with both a metric and metric math, naming the alarm, before sending it", async () => {
      const both = { ...latency, metrics: errorRate.metrics };

      await expect(alarms.ensure([both])).rejects.toThrow(
        `Alarm spec ${PREFIX}-latency must have either a metric or metric math (metrics), not both`,
      );
      expect(cloudwatch.calls()).toEqual([]);
    });

    it("reports throttling as Transient, for the state machine to retry", async () => {
      cloudwatch.on(PutMetricAlarmCommand).rejects(awsError("Throttling", "Rate exceeded"));

      await expect(alarms.ensure([latency])).rejects.toMatchObject({ name: "Transient" });
    });

    it("names the CloudWatch permissions the function needs when it is denied", async () => {
      cloudwatch.on(PutMetricAlarmCommand).rejects(awsError("AccessDenied", "not authorized", 403));

      await expect(alarms.ensure([latency])).rejects.toThrow(
        /cloudwatch:PutMetricAlarm, PutCompositeAlarm, DescribeAlarms and DeleteAlarms on the alarms named modelship-\*/,
      );
    });
  });

  describe("states", () => {
    const describedLatency: MetricAlarm = {
      AlarmName: `${PREFIX}-latency`,
      StateValue: "ALARM",
      StateReason:
        "Threshold Crossed: 3 out of the last 3 datapoints were greater than the threshold (2000.0).",
      StateTransitionedTimestamp: new Date("2025-06-01T11:59:40.000Z"),
      StateUpdatedTimestamp: new Date("2025-06-01T11:59:50.000Z"),
      Namespace: "modelship",
      MetricName: "Latency",
      Dimensions: candidateDimensions,
      ExtendedStatistic: "p95",
      Period: 10,
      EvaluationPeriods: 3,
      Threshold: 2000,
    };
    const describedErrors: MetricAlarm = {
      AlarmName: `${PREFIX}-errors`,
      StateValue: "OK",
      StateReason: "Threshold Crossed: no datapoints were received for 3 periods.",
      StateReasonData: JSON.stringify({
        version: "1.0",
        recentDatapoints: [0, 1.5],
        evaluatedDatapoints: [
          { timestamp: "2025-06-01T11:59:30.000+0000", value: 1.5 },
          { timestamp: "2025-06-01T11:59:20.000+0000", value: 0 },
        ],
        threshold: 2,
      }),
      StateUpdatedTimestamp: new Date("2025-06-01T11:50:00.000Z"),
      EvaluationPeriods: 3,
      Threshold: 2,
      Metrics: [
        candidateSum("errors", "Errors"),
        candidateSum("requests", "Requests"),
        { Id: "rate", Expression: "100 * errors / MAX([requests, 1])", ReturnData: true },
      ],
    };

    it("reads metric and composite alarms in one call and puts each metric's newest value next to its threshold", async () => {
      cloudwatch.on(DescribeAlarmsCommand).resolves({
        MetricAlarms: [describedLatency, describedErrors],
        CompositeAlarms: [
          {
            AlarmName: PREFIX,
            StateValue: "ALARM",
            StateReason: `arn:…:alarm:${PREFIX}-latency transitioned to ALARM`,
            StateTransitionedTimestamp: new Date("2025-06-01T11:59:41.000Z"),
          },
        ],
      });
      cloudwatch
        .on(GetMetricDataCommand)
        .resolvesOnce({ MetricDataResults: [{ Id: "value", Values: [2412.5, 2230], Timestamps: [] }] })
        .resolvesOnce({
          MetricDataResults: [
            { Id: "errors", Values: [3] },
            { Id: "rate", Values: [0.8, 0.4] },
          ],
        });

      const states = await alarms.states([PREFIX, `${PREFIX}-latency`, `${PREFIX}-errors`]);

      expect(states).toEqual([
        {
          name: PREFIX,
          state: "ALARM",
          reason: `arn:…:alarm:${PREFIX}-latency transitioned to ALARM`,
          since: "2025-06-01T11:59:41.000Z",
        },
        {
          name: `${PREFIX}-latency`,
          state: "ALARM",
          reason: describedLatency.StateReason,
          value: 2412.5,
          threshold: 2000,
          since: "2025-06-01T11:59:40.000Z",
        },
        {
          name: `${PREFIX}-errors`,
          state: "OK",
          reason: describedErrors.StateReason,
          value: 0.8,
          threshold: 2,
          since: "2025-06-01T11:50:00.000Z",
        },
      ]);
      expect(cloudwatch.commandCalls(DescribeAlarmsCommand).map((c) => c.args[0].input)).toEqual([
        {
          AlarmNames: [PREFIX, `${PREFIX}-latency`, `${PREFIX}-errors`],
          AlarmTypes: ["MetricAlarm", "CompositeAlarm"],
          MaxRecords: 100,
        },
      ]);
      expect(cloudwatch.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input)).toEqual([
        {
          MetricDataQueries: [
            {
              Id: "value",
              MetricStat: {
                Metric: { Namespace: "modelship", MetricName: "Latency", Dimensions: candidateDimensions },
                Period: 10,
                Stat: "p95",
              },
              ReturnData: true,
            },
          ],
          StartTime: new Date("2025-06-01T11:59:10.000Z"),
          EndTime: new Date("2025-06-01T12:00:00.000Z"),
          ScanBy: "TimestampDescending",
        },
        {
          MetricDataQueries: describedErrors.Metrics,
          StartTime: new Date("2025-06-01T11:59:10.000Z"),
          EndTime: new Date("2025-06-01T12:00:00.000Z"),
          ScanBy: "TimestampDescending",
        },
      ]);
    });

    it("says how many of the evaluated periods breach, counting a period GetMetricData has no datapoint for as one without data", async () => {
      cloudwatch.on(DescribeAlarmsCommand).resolves({
        MetricAlarms: [
          {
            ...describedLatency,
            StateValue: "OK",
            ComparisonOperator: "GreaterThanThreshold",
            DatapointsToAlarm: 3,
            TreatMissingData: "notBreaching",
          },
          { ...describedErrors, ComparisonOperator: "GreaterThanThreshold" },
        ],
      });
      const at = (time: string) => new Date(`2025-06-01T${time}.000Z`);
      cloudwatch
        .on(GetMetricDataCommand)
        .resolvesOnce({
          MetricDataResults: [
            { Id: "value", Timestamps: [at("11:59:50"), at("11:59:30")], Values: [2412.5, 2230] },
          ],
        })
        .resolvesOnce({
          MetricDataResults: [
            {
              Id: "rate",
              Timestamps: [at("11:59:50"), at("11:59:40"), at("11:59:30"), at("11:59:20")],
              Values: [0.8, 0.4, 3, 5],
            },
          ],
        });

      const [latencyState, errorsState] = await alarms.states([`${PREFIX}-latency`, `${PREFIX}-errors`]);

      // Latency: 2 datapoints in the range of 5 (fewer than N = 3), both over 2000; the third period is one
      // without data, which the alarm treats as not breaching — so OK although the newest value is over.
      expect(latencyState).toMatchObject({
        state: "OK",
        value: 2412.5,
        threshold: 2000,
        evaluation: {
          evaluationPeriods: 3,
          datapointsToAlarm: 3,
          breaching: 2,
          noData: 1,
          treatMissingData: "notBreaching",
        },
      });
      // Errors: 4 datapoints, so the 3 newest are evaluated; with neither DatapointsToAlarm nor
      // TreatMissingData described, CloudWatch's defaults (N, missing) apply.
      expect(errorsState?.evaluation).toEqual({
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        breaching: 1,
        noData: 0,
        treatMissingData: "missing",
      });
    });

    it("gives no evaluation for a comparison it cannot judge, such as an anomaly-detection band", async () => {
      cloudwatch.on(DescribeAlarmsCommand).resolves({
        MetricAlarms: [
          { ...describedLatency, ComparisonOperator: "LessThanLowerOrGreaterThanUpperThreshold" },
        ],
      });
      cloudwatch.on(GetMetricDataCommand).resolves({
        MetricDataResults: [
          { Id: "value", Timestamps: [new Date("2025-06-01T11:59:50.000Z")], Values: [2412.5] },
        ],
      });

      const [state] = await alarms.states([`${PREFIX}-latency`]);

      expect(state).toMatchObject({ value: 2412.5 });
      expect(state?.evaluation).toBeUndefined();
    });

    it("falls back to the datapoints of the last state change when the metric cannot be read now", async () => {
      cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [describedErrors] });
      cloudwatch.on(GetMetricDataCommand).rejects(awsError("AccessDenied", "not authorized", 403));

      const [state] = await alarms.states([`${PREFIX}-errors`]);

      expect(state).toMatchObject({ state: "OK", value: 1.5, threshold: 2 });
    });

    it("leaves out names that have no alarm", async () => {
      cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [describedErrors] });
      cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });

      const states = await alarms.states([`${PREFIX}-gone`, `${PREFIX}-errors`]);

      expect(states.map((s) => s.name)).toEqual([`${PREFIX}-errors`]);
    });
  });

  describe("metricHistory", () => {
    const latencyAlarm: MetricAlarm = {
      AlarmName: `${PREFIX}-latency`,
      AlarmDescription: latency.description,
      StateValue: "ALARM",
      Namespace: "modelship",
      MetricName: "Latency",
      Dimensions: candidateDimensions,
      ExtendedStatistic: "p95",
      Period: 10,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      Threshold: 2000,
      ComparisonOperator: "GreaterThanThreshold",
    };
    const errorsAlarm: MetricAlarm = {
      AlarmName: `${PREFIX}-errors`,
      StateValue: "OK",
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      Threshold: 2,
      ComparisonOperator: "GreaterThanThreshold",
      Metrics: [
        candidateSum("errors", "Errors"),
        { Id: "rate", Expression: "100 * errors / 4", ReturnData: true },
      ],
    };
    const at = (iso: string) => new Date(iso);

    it("reads each metric alarm's own metric or metric math over the span, page by page, oldest first", async () => {
      cloudwatch.on(DescribeAlarmsCommand).resolves({
        MetricAlarms: [latencyAlarm, errorsAlarm],
        CompositeAlarms: [{ AlarmName: PREFIX, StateValue: "ALARM" }],
      });
      // The latency alarm's metric in two pages, the error rate's in one.
      cloudwatch
        .on(GetMetricDataCommand)
        .callsFake((input: { MetricDataQueries?: { Id?: string }[]; NextToken?: string }) => {
          if (input.MetricDataQueries?.[0]?.Id !== "value") {
            return {
              MetricDataResults: [{ Id: "rate", Timestamps: [at("2025-06-01T11:59:00.000Z")], Values: [25] }],
            };
          }
          return input.NextToken === "page-2"
            ? {
                MetricDataResults: [
                  { Id: "value", Timestamps: [at("2025-06-01T11:59:20.000Z")], Values: [2650] },
                ],
              }
            : {
                MetricDataResults: [
                  {
                    Id: "value",
                    Timestamps: [at("2025-06-01T11:59:00.000Z"), at("2025-06-01T11:59:10.000Z")],
                    Values: [812, 2412],
                  },
                ],
                NextToken: "page-2",
              };
        });
      const span = { start: at("2025-06-01T11:59:00.000Z"), end: at("2025-06-01T12:00:00.000Z") };

      const histories = await alarms.metricHistory([`${PREFIX}-latency`, `${PREFIX}-errors`, PREFIX], span);

      expect(histories).toEqual([
        {
          name: `${PREFIX}-latency`,
          description: latency.description,
          threshold: 2000,
          comparison: "GreaterThanThreshold",
          alarmPeriodSeconds: 10,
          evaluationPeriods: 3,
          datapointsToAlarm: 3,
          periodSeconds: 10,
          points: [
            { at: "2025-06-01T11:59:00.000Z", value: 812 },
            { at: "2025-06-01T11:59:10.000Z", value: 2412 },
            { at: "2025-06-01T11:59:20.000Z", value: 2650 },
          ],
        },
        {
          name: `${PREFIX}-errors`,
          threshold: 2,
          comparison: "GreaterThanThreshold",
          alarmPeriodSeconds: 10,
          evaluationPeriods: 3,
          datapointsToAlarm: 2,
          periodSeconds: 10,
          points: [{ at: "2025-06-01T11:59:00.000Z", value: 25 }],
        },
      ]);
      const sent = cloudwatch.commandCalls(GetMetricDataCommand).map((call) => call.args[0].input);
      expect(sent).toHaveLength(3);
      for (const input of sent) {
        expect(input).toMatchObject({
          StartTime: span.start,
          EndTime: span.end,
          ScanBy: "TimestampAscending",
        });
      }
      expect(sent[0]?.MetricDataQueries).toEqual([
        {
          Id: "value",
          MetricStat: {
            Metric: { Namespace: "modelship", MetricName: "Latency", Dimensions: candidateDimensions },
            Period: 10,
            Stat: "p95",
          },
          ReturnData: true,
        },
      ]);
      expect(sent[1]?.NextToken).toBe("page-2");
    });

    it("reads a span that began more than 3 hours ago at whole minutes, since CloudWatch keeps 10-second data 3 hours", async () => {
      cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [errorsAlarm] });
      cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
      const span = { start: at("2025-06-01T08:30:00.000Z"), end: at("2025-06-01T12:00:00.000Z") };

      const [history] = await alarms.metricHistory([`${PREFIX}-errors`], span);

      expect(history?.periodSeconds).toBe(60);
      const [input] = cloudwatch.commandCalls(GetMetricDataCommand).map((call) => call.args[0].input);
      expect(input?.MetricDataQueries?.[0]?.MetricStat?.Period).toBe(60);
      // The expression is sent as the alarm has it.
      expect(input?.MetricDataQueries?.[1]).toEqual({
        Id: "rate",
        Expression: "100 * errors / 4",
        ReturnData: true,
      });
    });
  });

  describe("remove", () => {
    it("deletes composites before the alarms they name, and only alarms that exist", async () => {
      cloudwatch.on(DescribeAlarmsCommand).resolves({
        MetricAlarms: [{ AlarmName: `${PREFIX}-latency` }, { AlarmName: `${PREFIX}-errors` }],
        CompositeAlarms: [{ AlarmName: PREFIX }],
      });

      await alarms.remove([`${PREFIX}-latency`, `${PREFIX}-errors`, `${PREFIX}-never-created`, PREFIX]);

      expect(cloudwatch.commandCalls(DeleteAlarmsCommand).map((c) => c.args[0].input)).toEqual([
        { AlarmNames: [PREFIX] },
        { AlarmNames: [`${PREFIX}-latency`, `${PREFIX}-errors`] },
      ]);
    });

    it("asks about and deletes at most 100 alarms per call", async () => {
      const names = Array.from({ length: 150 }, (_, i) => `${PREFIX}-alarm-${i}`);
      cloudwatch.on(DescribeAlarmsCommand).callsFake((input: { AlarmNames: string[] }) => ({
        MetricAlarms: input.AlarmNames.map((AlarmName) => ({ AlarmName })),
      }));

      await alarms.remove(names);

      expect(
        cloudwatch.commandCalls(DescribeAlarmsCommand).map((c) => c.args[0].input.AlarmNames?.length),
      ).toEqual([100, 50]);
      expect(cloudwatch.commandCalls(DeleteAlarmsCommand).map((c) => c.args[0].input.AlarmNames)).toEqual([
        names.slice(0, 100),
        names.slice(100),
      ]);
    });

    it("does nothing when none of the alarms exist (removing twice is fine)", async () => {
      cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [], CompositeAlarms: [] });

      await alarms.remove([`${PREFIX}-latency`, PREFIX]);

      expect(cloudwatch.commandCalls(DeleteAlarmsCommand)).toEqual([]);
    });

    it("looks again when an alarm disappears between reading and deleting", async () => {
      cloudwatch
        .on(DescribeAlarmsCommand)
        .resolvesOnce({
          MetricAlarms: [{ AlarmName: `${PREFIX}-latency` }, { AlarmName: `${PREFIX}-errors` }],
        })
        .resolves({ MetricAlarms: [{ AlarmName: `${PREFIX}-errors` }] });
      cloudwatch
        .on(DeleteAlarmsCommand)
        .rejectsOnce(awsError("ResourceNotFound", `${PREFIX}-latency does not exist`, 404))
        .resolves({});

      await alarms.remove([`${PREFIX}-latency`, `${PREFIX}-errors`]);

      expect(cloudwatch.commandCalls(DeleteAlarmsCommand).map((c) => c.args[0].input.AlarmNames)).toEqual([
        [`${PREFIX}-latency`, `${PREFIX}-errors`],
        [`${PREFIX}-errors`],
      ]);
    });
  });
});
