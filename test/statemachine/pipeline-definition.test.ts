// statemachines/pipeline.asl.json as a document: valid Amazon States Language (asl-validator, before and after
// the ARN substitutions), and the rules every state must keep — timeouts, retries, where failures go.

import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { PIPELINE_FUNCTIONS, substitutionKey } from "../../lib/core/state-machine/pipeline-functions";
import { definitionJson } from "./test-stages";

type AslValidator = (
  definition: unknown,
  options?: { checkArn?: boolean; checkPaths?: boolean },
) => { isValid: boolean; errorsText(separator?: string): string };

// asl-validator is CommonJS without type declarations.
const aslValidator = createRequire(import.meta.url)("asl-validator") as AslValidator;

interface State {
  readonly Type: string;
  readonly Resource?: string;
  readonly Parameters?: { readonly FunctionName?: string; readonly Payload?: Record<string, unknown> };
  readonly TimeoutSeconds?: number;
  readonly TimeoutSecondsPath?: string;
  readonly QueryLanguage?: string;
  readonly Retry?: readonly {
    ErrorEquals: string[];
    JitterStrategy?: string;
    BackoffRate?: number;
    MaxAttempts?: number;
  }[];
  readonly Catch?: readonly { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
  readonly ItemProcessor?: { States: Record<string, State> };
  readonly ItemsPath?: string;
  readonly ItemSelector?: Record<string, string>;
  readonly MaxConcurrency?: number;
  readonly ResultPath?: string;
}

const definition = JSON.parse(definitionJson) as { QueryLanguage?: string; States: Record<string, State> };
const top = definition.States;

function allStates(states: Record<string, State> = top): [string, State][] {
  return Object.entries(states).flatMap(([name, state]) => [
    [name, state] as [string, State],
    ...(state.ItemProcessor ? allStates(state.ItemProcessor.States) : []),
  ]);
}

const tasks = allStates().filter(([, s]) => s.Type === "Task");
/** The Tasks that wait for a person: Lambda's `.waitForTaskToken` integration. */
const tokenTasks = tasks.filter(([, s]) => s.Resource === "arn:aws:states:::lambda:invoke.waitForTaskToken");

/** The function a Task calls: its Resource, or the FunctionName of a `.waitForTaskToken` Task. */
function functionOf(state: State): string | undefined {
  return state.Resource?.startsWith("arn:aws:states:::") ? state.Parameters?.FunctionName : state.Resource;
}

/** The Catch target of a top-level Task or Map. */
function catchTarget(state: string): string | undefined {
  const catchers = top[state]?.Catch ?? [];
  // DeployCandidate alone first sends a deploy refused for capacity back to CheckCapacity.
  const before = state === "DeployCandidate" ? [["InsufficientCapacity"]] : [];
  expect(catchers.map((c) => c.ErrorEquals)).toEqual([...before, ["States.ALL"]]);
  return catchers.at(-1)?.Next;
}

describe("The pipeline definition", () => {
  it("is valid Amazon States Language once every function ARN is substituted, as Step Functions receives it", () => {
    const substituted = definitionJson.replace(
      /\$\{(\w+)FunctionArn\}/g,
      (_, fn: string) => `arn:aws:lambda:eu-west-1:123456789012:function:modelship-${fn}`,
    );
    const result = aslValidator(JSON.parse(substituted), { checkArn: true, checkPaths: true });

    expect(result.errorsText("\n")).toBe("");
  });

  it("uses JSONPath only", () => {
    expect(definition.QueryLanguage ?? "JSONPath").toBe("JSONPath");
    for (const [name, state] of allStates())
      expect([name, state.QueryLanguage ?? "JSONPath"]).toEqual([name, "JSONPath"]);
  });

  it("names every pipeline function in a Task, each by its substitution", () => {
    const resources = new Set(tasks.map(([, s]) => functionOf(s)));

    expect([...resources].sort()).toEqual(
      PIPELINE_FUNCTIONS.map((fn) => `\${${substitutionKey(fn)}}`).sort(),
    );
  });

  it("gives every Task an explicit timeout: the approval's from the plan, in the state and in its Payload", () => {
    for (const [name, state] of tasks) {
      if (tokenTasks.some(([token]) => token === name)) {
        expect([name, state.TimeoutSecondsPath, state.Parameters?.Payload?.["timeoutSeconds.$"]]).toEqual([
          name,
          "$.plan.approval.timeoutSeconds",
          "$.plan.approval.timeoutSeconds",
        ]);
      } else {
        expect([name, typeof state.TimeoutSeconds]).toEqual([name, "number"]);
      }
    }
  });

  it("waits for approval on a task token the RequestApproval function keeps, before traffic or before the promotion", () => {
    expect(tokenTasks.map(([name]) => name).sort()).toEqual([
      "WaitForApprovalBeforePromote",
      "WaitForApprovalBeforeTraffic",
    ]);
    for (const [name, state] of tokenTasks) {
      expect([name, state.Parameters?.FunctionName]).toEqual([name, "${RequestApprovalFunctionArn}"]);
      expect(state.Parameters?.Payload?.["token.$"]).toBe("$$.Task.Token");
      // A timeout is shaped as ApprovalTimedOut; a rejection, or a rollback meanwhile, goes to Rollback.
      expect(state.Catch).toEqual([
        { ErrorEquals: ["States.Timeout"], ResultPath: "$.error", Next: "ApprovalTimedOut" },
        { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Rollback" },
      ]);
    }
    expect(top["ApprovalTimedOut"]).toMatchObject({ Type: "Pass", ResultPath: "$.error", Next: "Rollback" });
  });

  it("retries Transient and the Lambda service errors on every Task, with backoff and full jitter", () => {
    for (const [name, state] of tasks) {
      const retrier = state.Retry?.find((r) => r.ErrorEquals.includes("Transient"));
      expect([name, retrier?.ErrorEquals.sort()]).toEqual([
        name,
        [
          "Lambda.AWSLambdaException",
          "Lambda.SdkClientException",
          "Lambda.ServiceException",
          "Lambda.TooManyRequestsException",
          "Transient",
        ],
      ]);
      expect([name, retrier?.JitterStrategy]).toEqual([name, "FULL"]);
      expect(retrier?.BackoffRate).toBeGreaterThan(1);
    }
  });

  it("sends every failure up to the gateway registration to Cleanup, with the error at $.error", () => {
    const beforeCanary = [
      "Prepare",
      "Validate",
      "CheckCapacity",
      "DeployCandidate",
      "CheckCandidate",
      "SmokeTest",
      "StressTest",
      "MergeStress",
      "Eval",
      "MergeEval",
      "RegisterGateway",
      "PreTrafficHooks",
    ];
    for (const state of beforeCanary) {
      expect([state, catchTarget(state), top[state]?.Catch?.at(-1)?.ResultPath]).toEqual([
        state,
        "Cleanup",
        "$.error",
      ]);
    }
  });

  it("runs the StressTest Map over the workers Prepare planned, each item being StressWorkerInput: rollout, handle, gate, prompt set, worker", () => {
    const stressMap = top["StressTest"];

    expect(stressMap?.ItemsPath).toBe("$.plan.stressWorkers");
    expect(stressMap?.ItemSelector).toEqual({
      "rollout.$": "$.rollout",
      "candidate.$": "$.candidate.handle",
      "gate.$": "$.manifest.gates.stress",
      "prompts.$": "$.plan.stressPrompts",
      "worker.$": "$$.Map.Item.Value",
    });
    expect(stressMap?.MaxConcurrency).toBeLessThanOrEqual(40);
  });

  it("runs the Eval Map over the shards Prepare planned, each item being EvalShardInput: rollout, handle, shard", () => {
    const evalMap = top["Eval"];

    expect(evalMap?.ItemsPath).toBe("$.plan.evalShards");
    expect(evalMap?.ItemSelector).toEqual({
      "rollout.$": "$.rollout",
      "candidate.$": "$.candidate.handle",
      "shard.$": "$$.Map.Item.Value",
    });
    expect(evalMap?.MaxConcurrency).toBeGreaterThan(0);
    expect(evalMap?.MaxConcurrency).toBeLessThanOrEqual(40);
  });

  it("sends every failure during the canary and the watch to Rollback", () => {
    for (const state of [
      "CanaryStep",
      "CheckCanary",
      "StepHooks",
      "PrePromoteHooks",
      "Promote",
      "PostPromoteHooks",
      "CheckWatch",
    ]) {
      expect([state, catchTarget(state)]).toEqual([state, "Rollback"]);
    }
  });

  it("ends a Cleanup in a Fail that carries the original error", () => {
    expect(top["Cleanup"]?.Catch?.[0]).toMatchObject({ Next: "RolloutFailed", ResultPath: "$.outcome" });
    expect(top["RolloutFailed"]).toMatchObject({
      Type: "Fail",
      ErrorPath: "$.error.Error",
      CausePath: "$.error.Cause",
    });
    expect(top["RolledBack"]).toMatchObject({ Type: "Fail", Error: "RolledBack" });
  });

  it("lets each stage write only its own key of the state", () => {
    const resultPaths = Object.fromEntries(
      Object.entries(top)
        .filter(([, s]) => s.Type === "Task" || s.Type === "Map")
        .map(([name, s]) => [name, s.ResultPath]),
    );

    expect(resultPaths).toEqual({
      Prepare: undefined,
      Validate: "$.validation",
      CheckCapacity: "$.capacity",
      DeployCandidate: "$.candidate",
      CheckCandidate: "$.candidate.readiness",
      SmokeTest: "$.smoke",
      StressTest: "$.stress",
      MergeStress: "$.stress",
      Eval: "$.eval",
      MergeEval: "$.eval",
      RegisterGateway: "$.gateway",
      PreTrafficHooks: "$.hooks",
      WaitForApprovalBeforeTraffic: "$.approval",
      WaitForApprovalBeforePromote: "$.approval",
      StartShadow: "$.shadow",
      CheckShadow: "$.shadow.check",
      EndShadow: "$.shadow.result",
      CanaryStep: "$.canary",
      CheckCanary: "$.canary.check",
      StepHooks: "$.hooks",
      PrePromoteHooks: "$.hooks",
      Promote: "$.outcome",
      PostPromoteHooks: "$.hooks",
      CheckWatch: "$.outcome.watch",
      Finalize: "$.outcome",
      Rollback: "$.outcome",
      Cleanup: "$.outcome",
    });
  });
});
