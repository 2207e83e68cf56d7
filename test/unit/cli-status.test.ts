import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type GetMetricDataInput,
} from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DynamoRolloutStore } from "../../lib/aws/dynamodb-rollout-store";
import { run as status } from "../../lib/cli/status";
import type { ServingVersion, Transition } from "../../lib/core/rollout/rollout";
import { DynamoTableDouble } from "./adapters/dynamodb-table-double";

const TABLE = "Modelship-RolloutTable-1ABC";
const dynamo = mockClient(DynamoDBDocumentClient);
const cloudwatch = mockClient(CloudWatchClient);
const ALARMS = {
  latency: "modelship-llama-3-8b-v3-latency-p95",
  errors: "modelship-llama-3-8b-v3-error-rate",
  composite: "modelship-llama-3-8b-v3-rollback",
};
const dimensions = [
  { Name: "Model", Value: "llama-3-8b" },
  { Name: "Version", Value: "v3" },
  { Name: "Variant", Value: "candidate" },
];

let out: string[];
let err: string[];

function serving(version: string, rolloutId: string): ServingVersion {
  return {
    version,
    rolloutId,
    handle: {
      id: `models/llama-3-8b-${version}`,
      model: "llama-3-8b",
      version,
      rolloutId,
      servedName: "llama-3-8b",
      deployedAt: "2025-06-01T09:00:00.000Z",
    },
  };
}

/** llama-3-8b mid-canary: v2 stable at 75%, v3 at 25% on step 2 of 4, its three alarms armed. */
async function recordMidCanary(store: DynamoRolloutStore): Promise<void> {
  const v2 = serving("v2", "llama-3-8b-v2-0a1b2c3d");
  const v3 = serving("v3", "llama-3-8b-v3-4e5f6a7b");
  const base = { rolloutId: v3.rolloutId, version: "v3", status: "running" } as const;
  await store.record(
    "llama-3-8b",
    {
      ...base,
      rolloutId: v2.rolloutId,
      version: "v2",
      at: "2025-05-30T08:00:00.000Z",
      stage: "Finalize",
      status: "promoted",
      reason: "v2 is the stable version.",
    },
    { stable: v2, stableVersion: "v2", status: "promoted", weights: { stable: 100, candidate: 0 } },
  );
  await store.acquireLock("llama-3-8b", {
    rolloutId: v3.rolloutId,
    version: "v3",
    since: "2025-06-01T08:55:00.000Z",
  });
  await store.record(
    "llama-3-8b",
    {
      ...base,
      at: "2025-06-01T09:10:00.000Z",
      stage: "RegisterGateway",
      reason: "v3 is on the route at 0%.",
    },
    { candidate: v3, candidateVersion: "v3", status: "running" },
  );
  await store.record(
    "llama-3-8b",
    {
      ...base,
      at: "2025-06-01T09:30:00.000Z",
      stage: "CanaryStep",
      reason: "llama-3-8b v3 takes 25% of traffic, v2 75% (step 2 of 4); baking 600 s.",
      weights: { stable: 75, candidate: 25 },
    },
    {
      weights: { stable: 75, candidate: 25 },
      canary: { step: 2, steps: 4, weight: 25 },
      alarmNames: [ALARMS.latency, ALARMS.errors, ALARMS.composite],
    },
  );
}

function answerAlarms(): void {
  cloudwatch.on(DescribeAlarmsCommand).resolves({
    MetricAlarms: [
      {
        AlarmName: ALARMS.latency,
        StateValue: "OK",
        StateReason: "Threshold Crossed: no datapoint was greater than the threshold",
        StateTransitionedTimestamp: new Date("2025-06-01T09:31:00.000Z"),
        Namespace: "modelship",
        MetricName: "Latency",
        Dimensions: dimensions,
        ExtendedStatistic: "p95",
        Period: 10,
        EvaluationPeriods: 3,
        ComparisonOperator: "GreaterThanThreshold",
        Threshold: 2000,
      },
      {
        AlarmName: ALARMS.errors,
        StateValue: "ALARM",
        StateReason: "Threshold Crossed: 3 datapoints were greater than the threshold (2.0)",
        StateTransitionedTimestamp: new Date("2025-06-01T09:34:20.000Z"),
        Metrics: [
          {
            Id: "errors",
            MetricStat: {
              Metric: { Namespace: "modelship", MetricName: "Errors", Dimensions: dimensions },
              Period: 10,
              Stat: "Sum",
            },
            ReturnData: false,
          },
          {
            Id: "requests",
            MetricStat: {
              Metric: { Namespace: "modelship", MetricName: "Requests", Dimensions: dimensions },
              Period: 10,
              Stat: "Sum",
            },
            ReturnData: false,
          },
          { Id: "rate", Expression: "100 * errors / MAX([requests, 1])", ReturnData: true },
        ],
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
        ComparisonOperator: "GreaterThanThreshold",
        TreatMissingData: "notBreaching",
        Threshold: 2,
      },
    ],
    CompositeAlarms: [
      {
        AlarmName: ALARMS.composite,
        StateValue: "ALARM",
        StateReason: `${ALARMS.errors} transitioned to ALARM`,
        StateTransitionedTimestamp: new Date("2025-06-01T09:34:21.000Z"),
      },
    ],
  });
  answerMetricData({ latency: [2210, 1840.5, 2300], errors: [3.25, 1.5, 4] });
}

/** Each alarm's values over the newest periods of the range asked for, newest first; `undefined`: no datapoint. */
function answerMetricData(values: {
  readonly latency: readonly (number | undefined)[];
  readonly errors: readonly (number | undefined)[];
}): void {
  cloudwatch.on(GetMetricDataCommand).callsFake((input: GetMetricDataInput) => {
    const returned = input.MetricDataQueries?.find((q) => q.ReturnData !== false);
    const end = input.EndTime?.getTime() ?? 0;
    const datapoints = (returned?.Expression ? values.errors : values.latency).flatMap((value, i) =>
      value === undefined ? [] : [{ timestamp: new Date(end - (i + 1) * 10_000), value }],
    );
    return {
      MetricDataResults: [
        {
          Id: returned?.Id,
          Timestamps: datapoints.map((d) => d.timestamp),
          Values: datapoints.map((d) => d.value),
        },
      ],
    };
  });
}

beforeEach(async () => {
  dynamo.reset();
  cloudwatch.reset();
  new DynamoTableDouble(TABLE).answer(dynamo);
  answerAlarms();
  out = [];
  err = [];
  vi.spyOn(console, "log").mockImplementation((line: unknown) => void out.push(String(line)));
  vi.spyOn(console, "error").mockImplementation((line: unknown) => void err.push(String(line)));
  vi.stubEnv("AWS_REGION", "eu-west-1");
  vi.stubEnv("MODELSHIP_TABLE", "");
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "eu-west-1" }));
  await recordMidCanary(new DynamoRolloutStore({ tableName: TABLE, client }));
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe("modelship status", () => {
  it("shows a model mid-canary: stable and candidate with their weights, the step, and each alarm's source, how many of its evaluated periods breach and its latest value next to its threshold", async () => {
    expect(await status(["llama-3-8b", "--table", TABLE])).toBe(0);
    expect(out.join("\n")).toBe(
      [
        "llama-3-8b  running: canary step 2 of 4 (v3 at 25%)",
        "  stable     v2  75%  (rollout llama-3-8b-v2-0a1b2c3d, workload models/llama-3-8b-v2)",
        "  candidate  v3  25%  (rollout llama-3-8b-v3-4e5f6a7b, workload models/llama-3-8b-v3)",
        "  rollout    llama-3-8b-v3-4e5f6a7b (v3) holds the model since 2025-06-01T08:55:00.000Z",
        "  last       CanaryStep at 2025-06-01T09:30:00.000Z: llama-3-8b v3 takes 25% of traffic, v2 75% (step 2 of 4); baking 600 s.",
        "  alarms (watches: how many of the evaluated periods breach; latest value / threshold)",
        "    modelship-llama-3-8b-v3-latency-p95  OK                 auto: breaching 2 of the last 3 periods (alarms at 3); latest 2210 / 2000  since 2025-06-01T09:31:00.000Z",
        "    modelship-llama-3-8b-v3-error-rate   ALARM              auto: breaching 2 of the last 3 periods (alarms at 2); latest 3.25 / 2  since 2025-06-01T09:34:20.000Z",
        "    modelship-llama-3-8b-v3-rollback     ALARM              composite  since 2025-06-01T09:34:21.000Z",
        "    auto: real traffic in a period with at least rollout.alarms.minRequests requests, else the prober's chats",
      ].join("\n"),
    );
    expect(cloudwatch.commandCalls(DescribeAlarmsCommand)[0]?.args[0].input.AlarmNames).toEqual([
      ALARMS.latency,
      ALARMS.errors,
      ALARMS.composite,
    ]);
  });

  it("says when a rollback has claimed the rollout's end and is under way", async () => {
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "eu-west-1" }));
    await new DynamoRolloutStore({ tableName: TABLE, client }).claimEnd(
      "llama-3-8b",
      "llama-3-8b-v3-4e5f6a7b",
      {
        stage: "Rollback",
        at: "2025-06-01T09:34:25.000Z",
      },
    );
    expect(await status(["llama-3-8b", "--table", TABLE])).toBe(0);
    const printed = out.join("\n");
    expect(printed).toMatch(/^llama-3-8b {2}running: v3 being rolled back$/m);
    expect(printed).toContain(
      "  rollout    llama-3-8b-v3-4e5f6a7b (v3) holds the model since 2025-06-01T08:55:00.000Z; Rollback is ending it since 2025-06-01T09:34:25.000Z",
    );
  });

  it("names a sticky canary's conversation key in one line, only while the canary runs", async () => {
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "eu-west-1" }));
    const store = new DynamoRolloutStore({ tableName: TABLE, client });
    const step = {
      rolloutId: "llama-3-8b-v3-4e5f6a7b",
      version: "v3",
      status: "running",
      at: "2025-06-01T09:40:00.000Z",
      stage: "CanaryStep",
      reason: "llama-3-8b v3 takes 50% of traffic.",
    } as const;
    await store.record("llama-3-8b", step, {
      weights: { stable: 50, candidate: 50 },
      canary: { step: 3, steps: 4, weight: 50, stickiness: { header: "x-session-id" } },
    });
    expect(await status(["llama-3-8b", "--table", TABLE])).toBe(0);
    expect(out.join("\n")).toContain(
      [
        "  candidate  v3  50%  (rollout llama-3-8b-v3-4e5f6a7b, workload models/llama-3-8b-v3)",
        "  sticky     header x-session-id: a request with it stays on the version its value hashes to; without it, by weight",
        "  rollout ",
      ].join("\n"),
    );

    out.length = 0;
    await store.claimEnd("llama-3-8b", step.rolloutId, { stage: "Rollback", at: "2025-06-01T09:41:00.000Z" });
    expect(await status(["llama-3-8b", "--table", TABLE])).toBe(0);
    expect(out.join("\n")).not.toContain("sticky");
  });

  it("lists each hook the rollout ran, one line each: point, result, time, calls and reason", async () => {
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "eu-west-1" }));
    const store = new DynamoRolloutStore({ tableName: TABLE, client });
    const run = (at: string, hook: Transition["hook"]) =>
      store.record("llama-3-8b", {
        rolloutId: "llama-3-8b-v3-4e5f6a7b",
        version: "v3",
        status: "running",
        at,
        stage: "StepHooks",
        reason: "…",
        ...(hook && { hook }),
      });
    await run("2025-06-01T09:40:00.000Z", {
      name: "regression",
      at: "eachStep",
      step: 3,
      result: "passed",
      reason: "40 of 40 prompts unchanged",
      durationMs: 1420,
      attempts: 1,
    });
    await run("2025-06-01T09:41:00.000Z", {
      name: "kpis",
      at: "eachStep",
      step: 3,
      result: "ignored",
      reason: "answered HTTP 503 (3 attempts within 60 s)",
      durationMs: 7000,
      attempts: 3,
    });
    expect(await status(["llama-3-8b", "--table", TABLE])).toBe(0);
    expect(out.join("\n")).toContain(
      [
        "  hook       regression (eachStep, step 3): passed in 1.4 s, 1 attempt: 40 of 40 prompts unchanged (at 2025-06-01T09:40:00.000Z)",
        "  hook       kpis (eachStep, step 3): failed (ignored: onFailure ignore) in 7 s, 3 attempts: answered HTTP 503 (3 attempts within 60 s) (at 2025-06-01T09:41:00.000Z)",
        "  last ",
      ].join("\n"),
    );
  });

  it("prints every model from the table named by MODELSHIP_TABLE as JSON, the alarms' states beside the record", async () => {
    vi.stubEnv("MODELSHIP_TABLE", TABLE);
    expect(await status(["--json"])).toBe(0);
    const printed = JSON.parse(out.join("\n")) as { models: Record<string, unknown>[] };
    expect(printed.models).toHaveLength(1);
    expect(printed.models[0]).toMatchObject({
      model: "llama-3-8b",
      stableVersion: "v2",
      candidateVersion: "v3",
      weights: { stable: 75, candidate: 25 },
      canary: { step: 2, steps: 4, weight: 25 },
      alarms: [
        {
          name: ALARMS.latency,
          state: "OK",
          value: 2210,
          threshold: 2000,
          evaluation: { evaluationPeriods: 3, datapointsToAlarm: 3, breaching: 2, noData: 0 },
        },
        { name: ALARMS.errors, state: "ALARM", value: 3.25, threshold: 2 },
        { name: ALARMS.composite, state: "ALARM" },
      ],
    });
  });

  it("says how many evaluated periods had no data and how each alarm counts them", async () => {
    answerMetricData({ latency: [2210, undefined, undefined], errors: [4, undefined, 3.5] });
    expect(await status(["llama-3-8b", "--table", TABLE])).toBe(0);
    const printed = out.join("\n");
    expect(printed).toContain(
      "modelship-llama-3-8b-v3-latency-p95  OK                 auto: breaching 1 of the last 3 periods (alarms at 3), 2 had no data: not counted; latest 2210 / 2000",
    );
    expect(printed).toContain(
      "modelship-llama-3-8b-v3-error-rate   ALARM              auto: breaching 2 of the last 3 periods (alarms at 2), 1 had no data: treated as not breaching; latest 4 / 2",
    );
  });

  it("calls an alarm the record names but CloudWatch no longer has missing", async () => {
    cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [], CompositeAlarms: [] });
    expect(await status(["llama-3-8b", "--table", TABLE])).toBe(0);
    expect(out.join("\n")).toContain(
      "    modelship-llama-3-8b-v3-rollback     missing: CloudWatch has no such alarm",
    );
  });

  it("says when a model has no record (exit 1), and asks for the table when none is named (exit 2)", async () => {
    expect(await status(["mistral-7b", "--table", TABLE])).toBe(1);
    expect(out.join("\n")).toBe(
      `No rollout of mistral-7b is recorded in the table ${TABLE}. The models it knows: llama-3-8b.`,
    );
    expect(await status(["llama-3-8b"])).toBe(2);
    expect(err.join("\n")).toContain("which rollout table? Give --table or set MODELSHIP_TABLE");
    expect(err.join("\n")).toContain("RolloutTableName");
  });

  it("prints JSON with --json even when the model has no record, so a script can parse what it gets", async () => {
    expect(await status(["mistral-7b", "--table", TABLE, "--json"])).toBe(1);
    expect(JSON.parse(out.join("\n"))).toEqual({ models: [] });
  });

  it("with --local and no control plane running for the home, says how to start one and reads no table", async () => {
    dynamo.resetHistory();
    const home = await mkdtemp(join(tmpdir(), "modelship-no-control-plane-"));
    try {
      expect(await status(["--local", "--home", home])).toBe(1);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
    expect(err.join("\n")).toContain(`No local control plane is running for ${home}`);
    expect(dynamo.calls()).toHaveLength(0);
  });
});
