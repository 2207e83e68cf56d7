// The local executor's promises beyond running the flow: waits and retries scaled by the time factor (and
// really applied by the interpreter), failures shaped as Lambda shapes them on AWS, Step Functions' payload
// quota, transitions streamed in order, and definitions it cannot run faithfully refused up front.

import { afterEach, describe, expect, it, vi } from "vitest";
import { describeCaughtError, ModelInvalid, SmokeFailed, Transient } from "../../lib/core/errors";
import { LocalExecutor, MAX_PAYLOAD_BYTES, type TaskHandlers } from "../../lib/local/executor";
import { LocalExecutions } from "../../lib/local/local-executions";
import { definitionJson, failure, runPipeline, testInput, testPlan, testStages } from "./test-stages";

afterEach(() => {
  vi.restoreAllMocks();
});

/** The delays the interpreter asked setTimeout for while `work` ran. */
async function timerDelays<T>(work: () => Promise<T>): Promise<{ value: T; delays: number[] }> {
  const spy = vi.spyOn(globalThis, "setTimeout");
  const value = await work();
  const delays = spy.mock.calls.map((call) => Number(call[1] ?? 0));
  spy.mockRestore();
  return { value, delays };
}

describe("Time scaling", () => {
  const plan = testPlan({
    canarySteps: [
      { weight: 10, bakeSeconds: 600 },
      { weight: 100, bakeSeconds: 1200 },
    ],
    watchSeconds: 3600,
    readinessPollSeconds: 30,
  });

  it("keeps real time for a Wait that polls something real, while the bakes and the watch scale", async () => {
    const polling = testPlan({ ...plan, readinessPollSeconds: 1 });
    const { value: run, delays } = await timerDelays(() =>
      runPipeline({ plan: polling, timeFactor: 0.0001, realTimeWaits: ["WaitForCandidate"] }),
    );

    expect(run.result.status).toBe("SUCCEEDED");
    const waits = run.transitions.filter((t) => t.wait).map((t) => [t.state, t.wait]);
    expect(waits).toEqual([
      ["WaitForCandidate", { seconds: 1, scaledSeconds: 1 }],
      ["Bake", { seconds: 600, scaledSeconds: 0.06 }],
      ["Bake", { seconds: 1200, scaledSeconds: 0.12 }],
      ["Watch", { seconds: 3600, scaledSeconds: 0.36 }],
    ]);
    expect(delays).toEqual(expect.arrayContaining([1000, 60, 120, 360]));
  });

  it("refuses a real-time Wait the definition does not have", async () => {
    await expect(runPipeline({ realTimeWaits: ["WaitForCandidat"] })).rejects.toThrow(
      "'WaitForCandidat' is not a Wait state of the definition.",
    );
  });

  it("scales each Wait's duration, read from the execution's data at that moment, by the time factor", async () => {
    const { value: run, delays } = await timerDelays(() => runPipeline({ plan, timeFactor: 0.0001 }));

    expect(run.result.status).toBe("SUCCEEDED");
    const waits = run.transitions.filter((t) => t.wait).map((t) => [t.state, t.wait]);
    expect(waits).toEqual([
      ["WaitForCandidate", { seconds: 30, scaledSeconds: 0.003 }],
      ["Bake", { seconds: 600, scaledSeconds: 0.06 }],
      ["Bake", { seconds: 1200, scaledSeconds: 0.12 }],
      ["Watch", { seconds: 3600, scaledSeconds: 0.36 }],
    ]);
    // The interpreter slept the scaled durations, never the definition's.
    expect(delays).toEqual(expect.arrayContaining([3, 60, 120, 360]));
    expect(delays).not.toEqual(expect.arrayContaining([600_000]));
    expect(delays).not.toEqual(expect.arrayContaining([3_600_000]));
  });

  it("shrinks retry intervals by the same factor", async () => {
    let attempts = 0;
    const { value: run, delays } = await timerDelays(() =>
      runPipeline({
        timeFactor: 0.001,
        plan: testPlan({ canarySteps: [{ weight: 100, bakeSeconds: 0 }], watchSeconds: 0 }),
        stages: {
          SmokeTest: async () => {
            if (++attempts < 3) throw new Transient("503 from the candidate.");
            return { passed: true };
          },
        },
      }),
    );

    expect(run.result.status).toBe("SUCCEEDED");
    const retries = run.transitions.filter((t) => t.type === "retried");
    expect(retries.map((t) => [t.state, t.retryDelaySeconds])).toEqual([
      ["SmokeTest", 0.002],
      ["SmokeTest", 0.002],
    ]);
    expect(delays.filter((d) => d === 2)).toHaveLength(2);
  });

  it("refuses a negative time factor", () => {
    expect(
      () => new LocalExecutor(definitionJson, { handlers: testStages(testPlan()).handlers, timeFactor: -1 }),
    ).toThrow(/time factor must be a number ≥ 0/);
  });
});

describe("Failures as Lambda presents them", () => {
  it("names the error by its class and puts {errorType, errorMessage} JSON in Cause, as on AWS", async () => {
    const error = new ModelInvalid("model.safetensors is not a servable model.", {
      findings: [
        {
          severity: "error",
          code: "safetensors.offsets.overlap",
          file: "model.safetensors",
          tensor: "lm_head.weight",
          message: "its data overlaps 'model.norm.weight'.",
        },
      ],
      hint: "Re-export the weights.",
    });
    const run = await runPipeline({
      stages: {
        Validate: async () => {
          throw error;
        },
      },
    });

    const caught = failure(run);
    expect(caught.Error).toBe("ModelInvalid");
    expect(JSON.parse(caught.Cause ?? "")).toEqual({
      errorType: "ModelInvalid",
      errorMessage: error.message,
    });
    expect(describeCaughtError(caught)).toEqual({
      error: "ModelInvalid",
      reason: "model.safetensors is not a servable model.",
      hint: "Re-export the weights.",
      message: error.message,
    });
    expect(describeCaughtError(caught).message).toContain("tensor 'lm_head.weight': its data overlaps");
  });

  it("streams every failed attempt with the error a Catch would see", async () => {
    const run = await runPipeline({
      stages: {
        SmokeTest: async () => {
          throw new SmokeFailed("No answer contained 'Paris'.");
        },
      },
    });

    const failed = run.transitions.find((t) => t.type === "failed" && t.state === "SmokeTest");
    expect(failed?.error?.Error).toBe("SmokeFailed");
    expect(describeCaughtError(failed?.error).reason).toBe("No answer contained 'Paris'.");
    expect(run.transitions.find((t) => t.type === "caught")?.state).toBe("SmokeTest");
  });

  it("fails the execution with States.DataLimitExceeded, uncaught, when a state's output passes 256 KB", async () => {
    const run = await runPipeline({
      stages: { Validate: async () => ({ valid: true, findings: "x".repeat(MAX_PAYLOAD_BYTES) }) },
    });

    const caught = failure(run);
    expect(caught.Error).toBe("States.DataLimitExceeded");
    expect(caught.Cause).toMatch(/output of state 'Validate' is \d+ bytes/);
    expect(run.count("Cleanup")).toBe(0);
  });
});

describe("Transitions", () => {
  it("arrive in the order states ran, each entered before it exits, Map iterations marked with their index", async () => {
    const run = await runPipeline();

    const timestamps = run.transitions.filter((t) => t.iteration === undefined).map((t) => t.timestamp);
    expect(timestamps).toEqual([...timestamps].sort((a, b) => a - b));
    expect(run.transitions.slice(0, 4).map((t) => [t.type, t.state, t.stateType])).toEqual([
      ["entered", "Prepare", "Task"],
      ["exited", "Prepare", "Task"],
      ["entered", "Validate", "Task"],
      ["exited", "Validate", "Task"],
    ]);
    const workers = run.transitions.filter((t) => t.state === "StressWorker" && t.type === "entered");
    expect(workers.map((t) => t.iteration).sort()).toEqual([0, 1, 2]);
  });

  it("can be aborted", async () => {
    let release: () => void = () => undefined;
    const stages = testStages(testPlan(), {
      Validate: () =>
        new Promise((resolve) => {
          release = () => resolve({ valid: true });
        }),
    });
    const executor = new LocalExecutor(definitionJson, { handlers: stages.handlers, timeFactor: 0 });
    const running = executor.run(testInput(), { executionId: "local:x", name: "x" });
    await vi.waitFor(() => expect(stages.count("Validate")).toBe(1));

    running.abort();
    release();

    expect(await running.result).toEqual({ status: "ABORTED" });
    expect(stages.count("DeployCandidate")).toBe(0);
  });
});

describe("Definitions the local executor cannot run faithfully", () => {
  const handlers: TaskHandlers = testStages(testPlan()).handlers;
  const machine = (states: object) => JSON.stringify({ StartAt: Object.keys(states)[0], States: states });
  const task = { Type: "Task", Resource: "${PrepareFunctionArn}", TimeoutSeconds: 10 };

  it("names a Task whose Resource is not a pipeline function's substitution", () => {
    const definition = machine({ Deploy: { ...task, Resource: "${DeployFunctionArn}", End: true } });

    expect(() => new LocalExecutor(definition, { handlers, timeFactor: 0 })).toThrow(
      /Task 'Deploy' has Resource '\$\{DeployFunctionArn\}'; expected/,
    );
  });

  it("names a substitution used outside a Task's Resource", () => {
    const definition = machine({ Start: { ...task, Comment: "calls ${BucketName}", End: true } });

    expect(() => new LocalExecutor(definition, { handlers, timeFactor: 0 })).toThrow(/\$\{BucketName\}/);
  });

  it("refuses a Wait it cannot scale", () => {
    const definition = machine({
      Start: { ...task, Next: "Until" },
      Until: { Type: "Wait", Timestamp: "2030-01-01T00:00:00Z", End: true },
    });

    expect(() => new LocalExecutor(definition, { handlers, timeFactor: 0 })).toThrow(
      /Wait 'Until' waits for a timestamp/,
    );
  });

  it("fails the execution rather than guess when a Wait's input differs from the data it followed", async () => {
    const definition = machine({
      Start: { ...task, ResultPath: "$.pause", Next: "Override" },
      Override: { Type: "Pass", Result: { seconds: 7 }, ResultPath: "$.pause", Next: "Pause" },
      Pause: { Type: "Wait", SecondsPath: "$.pause.seconds", End: true },
    });
    const executor = new LocalExecutor(definition, {
      handlers: { ...handlers, Prepare: async () => ({ seconds: 5 }) },
      timeFactor: 0.001,
    });

    const result = await executor.run({}, { executionId: "local:x", name: "x" }).result;

    expect(result).toMatchObject({ status: "FAILED", error: { Error: "LocalExecutor.WaitScaling" } });
  });
});

describe("LocalExecutions", () => {
  it("runs one rollout when the same execution name is started twice", async () => {
    const stages = testStages(testPlan());
    const executor = new LocalExecutor(definitionJson, { handlers: stages.handlers, timeFactor: 0 });
    const executions = new LocalExecutions(executor);
    const input = testInput();

    const first = await executions.start("llama-v2-0badf00d", input);
    const second = await executions.start("llama-v2-0badf00d", input);

    expect(first).toEqual({ executionId: "local:llama-v2-0badf00d", alreadyStarted: false });
    expect(second).toEqual({ executionId: first.executionId, alreadyStarted: true });
    expect(executions.list()).toHaveLength(1);
    expect(await executions.get(first.executionId)?.result).toMatchObject({ status: "SUCCEEDED" });
    expect(stages.count("Prepare")).toBe(1);
  });

  it("streams each execution's transitions under its id", async () => {
    const executor = new LocalExecutor(definitionJson, {
      handlers: testStages(testPlan()).handlers,
      timeFactor: 0,
    });
    const seen = new Set<string>();
    const executions = new LocalExecutions(executor, (id) => seen.add(id));

    const a = await executions.start("llama-v2-aaaaaaaa", testInput("llama", "v2"));
    const b = await executions.start("mistral-v7-bbbbbbbb", testInput("mistral", "v7"));
    await Promise.all(executions.list().map((e) => e.result));

    expect([...seen].sort()).toEqual([a.executionId, b.executionId].sort());
  });

  it("refuses a name Step Functions would refuse", async () => {
    const executor = new LocalExecutor(definitionJson, {
      handlers: testStages(testPlan()).handlers,
      timeFactor: 0,
    });
    const executions = new LocalExecutions(executor);

    await expect(executions.start("llama v2", testInput())).rejects.toThrow(/not a valid execution name/);
    await expect(executions.start("x".repeat(81), testInput())).rejects.toThrow(/not a valid execution name/);
  });
});
