import { S3ServiceException } from "@aws-sdk/client-s3";
import type { Context } from "aws-lambda";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ModelInvalid } from "../../lib/core/errors";
import { resolveStackConfig } from "../../lib/core/resolution/stack-config";
import type { FunctionDeps, stageHandler as StageHandlerFactory } from "../../lib/aws/lambda/stage-handler";

// The handler factory reads its environment as Lambda gives it: the variables the construct sets, plus
// POWERTOOLS_DEV so Powertools writes its logs and metrics to the console this test listens to.
const ENVIRONMENT = {
  AWS_REGION: "eu-west-1",
  MODELSHIP_BUCKET: "models-bucket",
  MODELSHIP_TABLE: "rollouts",
  MODELSHIP_EVENT_BUS: "modelship",
  MODELSHIP_CONFIG: JSON.stringify(resolveStackConfig({ clusterName: "gpu-east" }).config),
  POWERTOOLS_SERVICE_NAME: "modelship",
  POWERTOOLS_METRICS_NAMESPACE: "modelship",
  POWERTOOLS_DEV: "true",
  POWERTOOLS_METRICS_DISABLED: "false",
  POWERTOOLS_LOG_LEVEL: "INFO",
};

let stageHandler: typeof StageHandlerFactory;
const printed: unknown[] = [];

beforeAll(async () => {
  for (const [name, value] of Object.entries(ENVIRONMENT)) vi.stubEnv(name, value);
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, method).mockImplementation((line: unknown) => {
      printed.push(typeof line === "string" ? JSON.parse(line) : line);
    });
  }
  ({ stageHandler } = await import("../../lib/aws/lambda/stage-handler"));
});
afterEach(() => {
  printed.length = 0;
});
afterAll(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

const context = {
  functionName: "modelship-Validate",
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:modelship-Validate",
  memoryLimitInMB: "1024",
  awsRequestId: "request-1",
  logGroupName: "/aws/lambda/modelship-Validate",
  logStreamName: "stream",
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 60_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} as Context;

const state = {
  rollout: {
    id: "llama-v2-1a2b3c4d",
    model: "llama",
    version: "v2",
    source: { bucket: "models-bucket", key: "models/llama/v2/modelship.yaml", prefix: "models/llama/v2/" },
  },
};

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the handler to fail");
}

interface EmfLine {
  readonly _aws: { readonly CloudWatchMetrics: { readonly Metrics: { readonly Name: string }[] }[] };
  readonly [key: string]: unknown;
}
const metricLines = () =>
  printed.filter((line): line is EmfLine => !!line && typeof line === "object" && "_aws" in line);
const logLines = () =>
  printed.filter(
    (line): line is Record<string, unknown> => !!line && typeof line === "object" && "message" in line,
  );

describe("stageHandler", () => {
  it("hands the stage its event and the AWS adapters the environment names", async () => {
    let seen: FunctionDeps<"Validate"> | undefined;
    const handler = stageHandler("Validate", async (event: typeof state, deps: FunctionDeps<"Validate">) => {
      seen = deps;
      return { validated: event.rollout.version };
    });

    await expect(handler(state, context)).resolves.toEqual({ validated: "v2" });
    expect(seen?.objects.location).toBe("s3://models-bucket");
    expect(seen?.config.clusterName).toBe("gpu-east");
  });

  it("logs a warning when a stage that ended a rollout could not write its report, and returns its outcome", async () => {
    const outcome = {
      result: "rolled back",
      reason: "Rolled back llama v2 because an abort was requested by alice.",
      reportProblem: "The report of rollout llama-v2-1a2b3c4d could not be written: AccessDenied",
    };
    const handler = stageHandler("Rollback", async () => outcome);

    await expect(handler(state, context)).resolves.toEqual(outcome);
    expect(logLines().find((line) => line["level"] === "WARN")).toMatchObject({
      message: outcome.reportProblem,
      stage: "Rollback",
    });
  });

  it("lets a named error through as it is, so the state machine's Catch sees its name", async () => {
    const invalid = new ModelInvalid("llama v2 is not a servable model: 1 error(s).");
    const handler = stageHandler("Validate", () => Promise.reject(invalid));

    const error = await failureOf(handler(state, context));
    expect(error).toBe(invalid);
    expect(error.name).toBe("ModelInvalid");
  });

  it("turns AWS throttling into Transient, which the state machine retries, keeping the original as cause", async () => {
    const slowDown = new S3ServiceException({
      name: "SlowDown",
      $fault: "server",
      $metadata: { httpStatusCode: 503 },
      message: "Please reduce your request rate.",
    });
    const handler = stageHandler("Validate", () => Promise.reject(slowDown));

    const error = await failureOf(handler(state, context));
    expect(error.name).toBe("Transient");
    expect(error.message).toContain("SlowDown");
    expect(error.cause).toBe(slowDown);
  });

  it("leaves any other error as it is", async () => {
    const handler = stageHandler("Validate", () => Promise.reject(new TypeError("x is undefined")));

    const error = await failureOf(handler(state, context));
    expect(error.name).toBe("TypeError");
  });

  it("reports running out of Lambda time as a timeout, not as a Transient failure to retry", async () => {
    const handler = stageHandler("Validate", () => new Promise<never>(() => undefined));
    const almostOutOfTime = { ...context, getRemainingTimeInMillis: () => 10 } as Context;

    const error = await failureOf(handler(state, almostOutOfTime));
    expect(error.name).toBe("TimeoutError");
  });

  it("fails saying what the function was not given, when its environment lacks what its stage calls (the prober's ARN)", async () => {
    const handler = stageHandler("CanaryStep", (_event: unknown, deps: FunctionDeps<"CanaryStep">) =>
      deps.metrics.startProber({
        model: "llama",
        version: "v2",
        rolloutId: "llama-v2-0a1b2c3d",
        everySeconds: 10,
      }),
    );

    const error = await failureOf(handler(state, context));
    expect(error.message).toContain("may not start a prober");
    expect(error.message).toContain("MODELSHIP_PROBER_FUNCTION_ARN");
  });

  it("publishes StageDuration and StageFailed = 1 for the stage when it fails", async () => {
    const handler = stageHandler("Validate", () => Promise.reject(new ModelInvalid("bad weights")));
    await failureOf(handler(state, context));

    const stageMetrics = metricLines().find((line) => "StageFailed" in line);
    expect(stageMetrics).toMatchObject({ Stage: "Validate", StageFailed: 1, service: "modelship" });
    expect(stageMetrics?.StageDuration).toEqual(expect.any(Number));
    expect(stageMetrics?._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name).sort()).toEqual([
      "StageDuration",
      "StageFailed",
    ]);
  });

  it("publishes StageFailed = 0 when the stage succeeds", async () => {
    await stageHandler("Prepare", async () => ({ ok: true }))(state, context);

    expect(metricLines().find((line) => "StageFailed" in line)).toMatchObject({
      Stage: "Prepare",
      StageFailed: 0,
    });
  });

  it("puts what the stage decided (a canary step's weight, a rollback's reason) on its success line for the dashboard's queries", async () => {
    await stageHandler("CanaryStep", async () => ({ step: 2, steps: 3, weight: 50, bakeSeconds: 60 }))(
      state,
      context,
    );
    await stageHandler("Rollback", async () => ({ result: "rolled back", reason: "x".repeat(5000) }))(
      state,
      context,
    );

    expect(logLines().find((line) => line.message === "CanaryStep succeeded")).toMatchObject({
      stage: "CanaryStep",
      step: 2,
      steps: 3,
      weight: 50,
    });
    const rollback = logLines().find((line) => line.message === "Rollback succeeded");
    expect(rollback).toMatchObject({ result: "rolled back" });
    expect(rollback?.reason).toHaveLength(1000);
    expect(rollback).not.toHaveProperty("bakeSeconds");
  });

  it("puts the rollout id, model and version on the stage's log lines, and not on the next invocation's", async () => {
    const handler = stageHandler("Validate", async () => ({ ok: true }));

    await handler(state, context);
    expect(logLines().find((line) => line.message === "Validate succeeded")).toMatchObject({
      rolloutId: "llama-v2-1a2b3c4d",
      model: "llama",
      version: "v2",
      function_request_id: "request-1",
    });

    printed.length = 0;
    await handler({ somethingElse: true }, context);
    const next = logLines().find((line) => line.message === "Validate succeeded");
    expect(next).toBeDefined();
    expect(next).not.toHaveProperty("rolloutId");
  });

  it("logs a failure with the error's name and message", async () => {
    const handler = stageHandler("Validate", () => Promise.reject(new ModelInvalid("bad weights")));
    await failureOf(handler(state, context));

    expect(logLines().find((line) => line.message === "Validate failed")).toMatchObject({
      level: "ERROR",
      rolloutId: "llama-v2-1a2b3c4d",
      error: expect.objectContaining({ name: "ModelInvalid", message: "bad weights" }),
    });
  });
});
